package mockseg.client;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.segment.analytics.Analytics;
import com.segment.analytics.Callback;
import com.segment.analytics.messages.GroupMessage;
import com.segment.analytics.messages.IdentifyMessage;
import com.segment.analytics.messages.Message;
import com.segment.analytics.messages.MessageBuilder;
import com.segment.analytics.messages.TrackMessage;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Sends calls through the official Segment Java SDK (analytics-java) to a server, and reports what
 * the SDK's Callback saw.
 *
 * <p>Usage: {@code java mockseg.client.JavaSdkClient SERVER_URL WRITE_KEY < calls.json}, where
 * calls.json is {@code {"calls": [{"type": "group", "userId": ..., "groupId": ..., "traits":
 * {...}}, {"type": "identify", ...}, {"type": "track", "event": ..., "properties": {...}}],
 * "timeoutSeconds": 20}}. A call may carry a "messageId".
 *
 * <p>The client is built in the SDK's default configuration except {@code .endpoint(url)} and a
 * Callback. After enqueueing, it flushes, waits until the Callback has heard of every message (or
 * the timeout passes), then shuts down. It prints one JSON line per Callback event and a last
 * "done" line; it exits 0 when every message was delivered, 1 when the SDK reported a failure for
 * any, and 2 when the wait timed out.
 */
public final class JavaSdkClient {
  private static final Gson GSON = new Gson();
  private static final PrintStream OUT = System.out;

  private JavaSdkClient() {}

  public static void main(String[] args) throws InterruptedException {
    if (args.length != 2) {
      System.err.println("usage: JavaSdkClient SERVER_URL WRITE_KEY < calls.json");
      System.exit(64);
    }
    JsonObject input =
        JsonParser.parseReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))
            .getAsJsonObject();
    JsonArray calls = input.getAsJsonArray("calls");
    long timeoutSeconds =
        input.has("timeoutSeconds") ? input.get("timeoutSeconds").getAsLong() : 20L;

    CountDownLatch heard = new CountDownLatch(calls.size());
    AtomicInteger delivered = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    Analytics analytics =
        Analytics.builder(args[1])
            .endpoint(args[0])
            .callback(
                new Callback() {
                  @Override
                  public void success(Message message) {
                    delivered.incrementAndGet();
                    report("success", message, null);
                    heard.countDown();
                  }

                  @Override
                  public void failure(Message message, Throwable throwable) {
                    failed.incrementAndGet();
                    report("failure", message, throwable);
                    heard.countDown();
                  }
                })
            .build();

    for (JsonElement call : calls) {
      analytics.enqueue(builderFor(call.getAsJsonObject()));
    }
    analytics.flush();
    boolean allHeard = heard.await(timeoutSeconds, TimeUnit.SECONDS);
    analytics.shutdown();

    JsonObject done = new JsonObject();
    done.addProperty("event", "done");
    done.addProperty("delivered", delivered.get());
    done.addProperty("failed", failed.get());
    done.addProperty("timedOut", !allHeard);
    synchronized (OUT) {
      OUT.println(GSON.toJson(done));
      OUT.flush();
    }
    System.exit(!allHeard ? 2 : failed.get() > 0 ? 1 : 0);
  }

  private static void report(String event, Message message, Throwable throwable) {
    JsonObject line = new JsonObject();
    line.addProperty("event", event);
    line.addProperty("type", message.type().name());
    line.addProperty("messageId", message.messageId());
    if (throwable != null) {
      line.addProperty("error", throwable.getClass().getName() + ": " + throwable.getMessage());
    }
    synchronized (OUT) {
      OUT.println(GSON.toJson(line));
      OUT.flush();
    }
  }

  private static MessageBuilder<?, ?> builderFor(JsonObject call) {
    String type = call.get("type").getAsString();
    MessageBuilder<?, ?> builder;
    switch (type) {
      case "group":
        builder =
            GroupMessage.builder(call.get("groupId").getAsString())
                .traits(objectOf(call, "traits"));
        break;
      case "identify":
        builder = IdentifyMessage.builder().traits(objectOf(call, "traits"));
        break;
      case "track":
        builder =
            TrackMessage.builder(call.get("event").getAsString())
                .properties(objectOf(call, "properties"));
        break;
      default:
        throw new IllegalArgumentException("unsupported call type: " + type);
    }
    if (call.has("userId")) {
      builder.userId(call.get("userId").getAsString());
    }
    if (call.has("anonymousId")) {
      builder.anonymousId(call.get("anonymousId").getAsString());
    }
    if (call.has("messageId")) {
      builder.messageId(call.get("messageId").getAsString());
    }
    return builder;
  }

  private static Map<String, Object> objectOf(JsonObject call, String field) {
    Map<String, Object> map = new LinkedHashMap<>();
    if (call.has(field)) {
      for (Map.Entry<String, JsonElement> entry : call.getAsJsonObject(field).entrySet()) {
        map.put(entry.getKey(), valueOf(entry.getValue()));
      }
    }
    return map;
  }

  /** Plain Java values for JSON, keeping integers integral (Gson's maps make 5000 5000.0). */
  private static Object valueOf(JsonElement element) {
    if (element.isJsonNull()) {
      return null;
    }
    if (element.isJsonObject()) {
      Map<String, Object> map = new LinkedHashMap<>();
      for (Map.Entry<String, JsonElement> entry : element.getAsJsonObject().entrySet()) {
        map.put(entry.getKey(), valueOf(entry.getValue()));
      }
      return map;
    }
    if (element.isJsonArray()) {
      List<Object> list = new ArrayList<>();
      for (JsonElement item : element.getAsJsonArray()) {
        list.add(valueOf(item));
      }
      return list;
    }
    JsonPrimitive primitive = element.getAsJsonPrimitive();
    if (primitive.isBoolean()) {
      return primitive.getAsBoolean();
    }
    if (primitive.isNumber()) {
      String text = primitive.getAsString();
      if (text.matches("-?\\d+")) {
        BigInteger integer = new BigInteger(text);
        return integer.bitLength() < 64 ? (Object) integer.longValue() : integer;
      }
      return new BigDecimal(text);
    }
    return primitive.getAsString();
  }
}
