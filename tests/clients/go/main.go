// Command goclient drives the real analytics-go SDK against a mockseg server.
//
// Usage: goclient URL WRITE_KEY SCENARIO
//
//	send           identify, group and track, then Close (which flushes)
//	invalid-close  one invalid group call (a groupId with a space), then Close at once
//	invalid-wait   one invalid group call sent at once (BatchSize 1); Close when stdin
//	               gives a line or ends, so the caller sees the SDK's retries meanwhile
//
// Each delivery outcome the SDK reports to its Callback is printed to stdout as one JSON
// line: {"outcome": "success"|"failure", "type": ..., "messageId": ..., "error": ...}.
// The SDK's own log lines go to stderr.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/segmentio/analytics-go/v3"
)

// outcomes prints what the SDK reports for each message, one JSON line each.
type outcomes struct {
	mu sync.Mutex
}

func (o *outcomes) print(outcome string, msg analytics.Message, err error) {
	line := map[string]string{"outcome": outcome}
	switch m := msg.(type) {
	case analytics.Group:
		line["type"], line["messageId"] = "group", m.MessageId
	case analytics.Identify:
		line["type"], line["messageId"] = "identify", m.MessageId
	case analytics.Track:
		line["type"], line["messageId"] = "track", m.MessageId
	default:
		line["type"] = fmt.Sprintf("%T", msg)
	}
	if err != nil {
		line["error"] = err.Error()
	}
	data, _ := json.Marshal(line)
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Println(string(data))
}

func (o *outcomes) Success(msg analytics.Message)            { o.print("success", msg, nil) }
func (o *outcomes) Failure(msg analytics.Message, err error) { o.print("failure", msg, err) }

func traits() analytics.Traits {
	return analytics.NewTraits().
		SetName("ACME Corp").
		Set("industry", "Technology").
		Set("employees", 500).
		Set("plan", "enterprise").
		Set("address", map[string]interface{}{
			"street": "1 Main St", "city": "Berlin", "postalCode": "10115", "country": "DE",
		})
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: goclient URL WRITE_KEY send|invalid-close|invalid-wait")
		os.Exit(2)
	}
	url, key, scenario := os.Args[1], os.Args[2], os.Args[3]
	config := analytics.Config{
		Endpoint: url,
		Interval: time.Hour, // only Close or a full batch sends
		Callback: &outcomes{},
	}
	if scenario == "invalid-wait" {
		config.BatchSize = 1 // a full batch of one is sent at once
	}
	client, err := analytics.NewWithConfig(key, config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "config:", err)
		os.Exit(2)
	}

	var messages []analytics.Message
	switch scenario {
	case "send":
		messages = []analytics.Message{
			analytics.Identify{MessageId: "go-identify-1", UserId: "user123",
				Traits: analytics.NewTraits().SetEmail("jane@acme.example")},
			analytics.Group{MessageId: "go-group-1", UserId: "user123", GroupId: "company_acme",
				Traits: traits()},
			analytics.Track{MessageId: "go-track-1", UserId: "user123", Event: "Order Completed",
				Properties: analytics.NewProperties().SetRevenue(99.5)},
		}
	case "invalid-close", "invalid-wait":
		messages = []analytics.Message{
			analytics.Group{MessageId: "go-invalid-1", UserId: "user123",
				GroupId: "company acme", Traits: traits()},
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown scenario:", scenario)
		os.Exit(2)
	}
	for _, msg := range messages {
		if err := client.Enqueue(msg); err != nil {
			fmt.Fprintln(os.Stderr, "enqueue:", err)
			os.Exit(1)
		}
	}
	if scenario == "invalid-wait" {
		fmt.Fprintln(os.Stderr, "waiting for a line on stdin before Close")
		bufio.NewReader(os.Stdin).ReadString('\n')
	}
	if err := client.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
		os.Exit(1)
	}
}
