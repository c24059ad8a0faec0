package mockseg.client;

import com.segment.analytics.kotlin.core.Analytics;
import com.segment.analytics.kotlin.core.Configuration;
import com.segment.analytics.kotlin.core.Settings;
import com.segment.analytics.kotlin.core.Telemetry;
import com.segment.analytics.kotlin.core.compat.ConfigurationBuilder;
import com.segment.analytics.kotlin.core.platform.plugins.logger.LogMessage;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import kotlin.Unit;
import kotlinx.serialization.json.Json;
import kotlinx.serialization.json.JsonElement;
import kotlinx.serialization.json.JsonElementKt;
import kotlinx.serialization.json.JsonObject;

/**
 * Sends calls through the JVM core of the official Segment Kotlin SDK (analytics-kotlin) to a
 * server, and reports what the SDK did.
 *
 * <p>Usage: {@code java mockseg.client.KotlinCoreClient https://HOST:PORT WRITE_KEY < calls.json},
 * where calls.json is {@code {"calls": [{"type": "identify", "userId": ..., "traits": {...}},
 * {"type": "group", "groupId": ..., "traits": {...}}, {"type": "track", "event": ...,
 * "properties": {...}}], "timeoutSeconds": 20}}. In this SDK the userId is state: an identify sets
 * it for the calls after it.
 *
 * <p>The SDK builds {@code https://} URLs from hosts, so both {@code apiHost} and {@code cdnHost}
 * are {@code HOST:PORT/v1}: it fetches {@code https://HOST:PORT/v1/projects/KEY/settings} and
 * posts batches to {@code https://} + the settings' apiHost + {@code /b}. Its defaults are kept
 * (file storage under /tmp/analytics-kotlin/KEY, flushAt 20, flushInterval 30 s), except for
 * what keeps every byte on this machine and lets the program see the outcome:
 *
 * <ul>
 *   <li>{@code Telemetry.enable = false}: the SDK's process-wide usage metrics post to
 *       api.segment.io/v1/m once settings give them a sampleRate (mockseg's give 0, a team's own
 *       settings document might not);
 *   <li>{@code defaultSettings} names this server as {@code apiHost}: the SDK's built-in fallback,
 *       used when the settings fetch fails, is api.segment.io/v1;
 *   <li>a Logger with debug logs on, and an {@code errorHandler}: the SDK has no delivery callback,
 *       so the program reads its "running" (event stored), "uploaded" (batch accepted) and "Batch
 *       dropped" (batch rejected and deleted) reports.
 * </ul>
 *
 * <p>It sends the calls one at a time, each once the one before is stored, then flushes once,
 * waits for the upload or the drop, and for the batch file to be gone. It prints one JSON line per
 * SDK error and a last "done" line, then exits 0 when the batch was uploaded, 1 when the SDK
 * dropped it, and 2 when the wait timed out.
 */
public final class KotlinCoreClient {
  private static final PrintStream OUT = System.out;
  private static final String TAG = "Segment.io ";
  private static final long KICK_AFTER_MILLIS = 2000;

  private KotlinCoreClient() {}

  public static void main(String[] args) throws IOException, InterruptedException {
    if (args.length != 2 || !args[0].startsWith("https://")) {
      System.err.println("usage: KotlinCoreClient https://HOST:PORT WRITE_KEY < calls.json");
      System.exit(64);
    }
    String host = args[0].substring("https://".length()).replaceAll("/+$", "") + "/v1";
    String writeKey = args[1];
    JsonObject input =
        (JsonObject)
            Json.Default.parseToJsonElement(
                new String(System.in.readAllBytes(), StandardCharsets.UTF_8));
    Iterable<JsonElement> calls = JsonElementKt.getJsonArray(input.get("calls"));
    long timeoutMillis =
        input.containsKey("timeoutSeconds")
            ? (long) (Double.parseDouble(string(input, "timeoutSeconds")) * 1000)
            : 20_000L;

    AtomicInteger stored = new AtomicInteger();
    AtomicInteger uploaded = new AtomicInteger();
    AtomicBoolean dropped = new AtomicBoolean();
    AtomicBoolean settingsFetched = new AtomicBoolean();
    AtomicReference<String> rejection = new AtomicReference<>();
    AtomicInteger kicks = new AtomicInteger();

    Telemetry.INSTANCE.setEnable(false);
    Analytics.Companion.setDebugLogsEnabled(true);
    Analytics.Companion.setLogger(
        (LogMessage log) -> {
          String message = log.getMessage();
          System.err.println("[analytics-kotlin " + log.getKind() + "] " + message);
          if (message.startsWith(TAG + "running ")) {
            stored.incrementAndGet();
          } else if (message.startsWith(TAG + "uploaded ")) {
            uploaded.incrementAndGet();
          } else if (message.startsWith("Fetched Settings: ")) {
            settingsFetched.set(true);
          }
        });

    Configuration configuration =
        new ConfigurationBuilder(writeKey)
            .setApplication("mockseg-tests")
            .setApiHost(host)
            .setCdnHost(host)
            .build();
    configuration.setDefaultSettings(
        Json.Default.decodeFromString(
            Settings.Companion.serializer(),
            "{\"integrations\": {\"Segment.io\": {\"apiKey\": " + quoted(writeKey)
                + ", \"apiHost\": " + quoted(host) + "}}}"));
    configuration.setErrorHandler(
        (Throwable error) -> {
          String text = error.getClass().getSimpleName() + ": " + error.getMessage();
          if (error.getClass().getSimpleName().equals("HTTPException")) {
            rejection.set(text);
          }
          if (String.valueOf(error.getMessage()).startsWith("Batch dropped")) {
            dropped.set(true);
          }
          Map<String, JsonElement> line = new LinkedHashMap<>();
          line.put("event", JsonElementKt.JsonPrimitive("error"));
          line.put("error", JsonElementKt.JsonPrimitive(text));
          print(line);
          return Unit.INSTANCE;
        });

    Analytics analytics = new Analytics(configuration);
    long deadline = System.currentTimeMillis() + timeoutMillis;
    // One call at a time: the SDK processes events concurrently, so an identify sent together with
    // a group may reach its UserInfoPlugin after the group did, leaving the group without userId.
    for (JsonElement element : calls) {
      int before = stored.get();
      send(analytics, (JsonObject) element);
      long kickAt = System.currentTimeMillis() + KICK_AFTER_MILLIS;
      while (stored.get() == before && System.currentTimeMillis() < deadline) {
        Thread.sleep(10);
        if (System.currentTimeMillis() >= kickAt) {
          // The StartupQueue hears of System state on a thread pool, so a stale "running =
          // false" can arrive after "running = true" and hold the event until the next state
          // change. Re-dispatching the (unchanged) enabled state is such a change.
          System.err.println("[client] event not stored yet; re-dispatching enabled = true");
          kicks.incrementAndGet();
          analytics.setEnabled(true);
          kickAt = System.currentTimeMillis() + KICK_AFTER_MILLIS;
        }
      }
    }
    analytics.flush();
    while (uploaded.get() == 0 && !dropped.get() && System.currentTimeMillis() < deadline) {
      Thread.sleep(20);
    }
    boolean timedOut = uploaded.get() == 0 && !dropped.get();
    // The SDK logs "uploaded" (and reports a drop) just before it deletes the batch file.
    while (!timedOut
        && !analytics.pendingUploads().isEmpty()
        && System.currentTimeMillis() < deadline) {
      Thread.sleep(10);
    }
    int pending = analytics.pendingUploads().size();
    analytics.shutdown();

    Map<String, JsonElement> done = new LinkedHashMap<>();
    done.put("event", JsonElementKt.JsonPrimitive("done"));
    done.put("stored", JsonElementKt.JsonPrimitive(stored.get()));
    done.put("uploaded", JsonElementKt.JsonPrimitive(uploaded.get()));
    done.put("dropped", JsonElementKt.JsonPrimitive(dropped.get()));
    done.put("rejection", JsonElementKt.JsonPrimitive(rejection.get()));
    done.put("settingsFetched", JsonElementKt.JsonPrimitive(settingsFetched.get()));
    done.put("pendingUploads", JsonElementKt.JsonPrimitive(pending));
    done.put("startupKicks", JsonElementKt.JsonPrimitive(kicks.get()));
    done.put("timedOut", JsonElementKt.JsonPrimitive(timedOut));
    print(done);
    System.exit(timedOut ? 2 : dropped.get() ? 1 : 0);
  }

  private static void send(Analytics analytics, JsonObject call) {
    String type = string(call, "type");
    switch (type) {
      case "identify":
        analytics.identify(string(call, "userId"), object(call, "traits"));
        break;
      case "group":
        analytics.group(string(call, "groupId"), object(call, "traits"));
        break;
      case "track":
        analytics.track(string(call, "event"), object(call, "properties"));
        break;
      default:
        throw new IllegalArgumentException("unsupported call type: " + type);
    }
  }

  private static String string(JsonObject object, String field) {
    return JsonElementKt.getJsonPrimitive(object.get(field)).getContent();
  }

  private static JsonObject object(JsonObject call, String field) {
    JsonElement value = call.get(field);
    return value == null ? new JsonObject(Map.of()) : (JsonObject) value;
  }

  private static String quoted(String text) {
    return JsonElementKt.JsonPrimitive(text).toString();
  }

  private static void print(Map<String, JsonElement> fields) {
    synchronized (OUT) {
      OUT.println(new JsonObject(fields));
      OUT.flush();
    }
  }
}
