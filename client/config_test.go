package norikv

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
)

// Every numeric field of Config and RetryConfig is checked: a value that
// cannot be what the user meant fails New with an InvalidArgument *Error
// naming the field, the value and what to write instead.
func TestConfigNumericFields(t *testing.T) {
	bad := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"Timeout in ms", func(c *Config) { c.Timeout = 5000 }, "Config.Timeout is 5µs; durations are time.Duration: did you mean 5 * time.Second?"},
		{"Timeout 999µs", func(c *Config) { c.Timeout = 999 * time.Microsecond }, "Config.Timeout is 999µs"},
		{"InitialDelay in ms", func(c *Config) { c.Retry.InitialDelay = 100 }, "Config.Retry.InitialDelay is 100ns; durations are time.Duration: did you mean 100 * time.Millisecond?"},
		{"InitialDelay negative", func(c *Config) { c.Retry.InitialDelay = -time.Second }, "Config.Retry.InitialDelay is -1s"},
		{"MaxDelay in ms", func(c *Config) { c.Retry.MaxDelay = 2000 }, "Config.Retry.MaxDelay is 2µs; durations are time.Duration: did you mean 2 * time.Second?"},
		{"MaxDelay negative", func(c *Config) { c.Retry.MaxDelay = -1 }, "Config.Retry.MaxDelay is -1ns"},
		{"MaxDelay below InitialDelay", func(c *Config) { c.Retry.InitialDelay = time.Second; c.Retry.MaxDelay = 10 * time.Millisecond }, "Config.Retry.MaxDelay (10ms) is below Config.Retry.InitialDelay (1s)"},
		{"Jitter in ms", func(c *Config) { c.Retry.Jitter = 100 }, "Config.Retry.Jitter is 100ns"},
		{"AttemptTimeout in ms", func(c *Config) { c.Retry.AttemptTimeout = 1500 }, "Config.Retry.AttemptTimeout is 1.5µs; durations are time.Duration: did you mean 1500 * time.Millisecond?"},
		{"MaxAttempts negative", func(c *Config) { c.Retry.MaxAttempts = -1 }, "Config.Retry.MaxAttempts is -1"},
		{"MaxRedirects negative", func(c *Config) { c.Retry.MaxRedirects = -1 }, "Config.Retry.MaxRedirects is -1"},
		{"BudgetRatio percent", func(c *Config) { c.Retry.BudgetRatio = 20 }, "Config.Retry.BudgetRatio is 20"},
		{"BudgetRatio NaN", func(c *Config) { c.Retry.BudgetRatio = math.NaN() }, "Config.Retry.BudgetRatio is NaN"},
		{"BudgetRatio tiny", func(c *Config) { c.Retry.BudgetRatio = 0.0001 }, "Config.Retry.BudgetRatio is 0.0001"},
		{"HedgeDelay in ms", func(c *Config) { c.StaleReads.HedgeDelay = 5 }, "Config.StaleReads.HedgeDelay is 5ns"},
		{"HedgeDelay negative", func(c *Config) { c.StaleReads.HedgeDelay = -time.Millisecond }, "Config.StaleReads.HedgeDelay is -1ms"},
		{"HedgeBudget percent", func(c *Config) { c.StaleReads.HedgeBudget = 5 }, "Config.StaleReads.HedgeBudget is 5"},
		{"HedgeBudget negative", func(c *Config) { c.StaleReads.HedgeBudget = -1 }, "Config.StaleReads.HedgeBudget is -1"},
		{"BudgetFloor negative", func(c *Config) { c.Retry.BudgetFloor = -5 }, "Config.Retry.BudgetFloor is -5"},
		{"MaxIdleConnsPerHost negative", func(c *Config) { c.MaxIdleConnsPerHost = -1 }, "Config.MaxIdleConnsPerHost is -1"},
		{"TotalShards negative", func(c *Config) { c.TotalShards = -1 }, "Config.TotalShards is -1"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Nodes: []string{"a:1"}}
			tc.mod(&cfg)
			_, err := New(cfg)
			var e *Error
			if !errors.As(err, &e) || e.Code != connect.CodeInvalidArgument || !strings.Contains(e.Message, tc.want) {
				t.Fatalf("New = %v; want InvalidArgument containing %q", err, tc.want)
			}
		})
	}
	good := []struct {
		name string
		mod  func(*Config)
	}{
		{"zero values are defaults", func(*Config) {}},
		{"1ms is fine", func(c *Config) {
			c.Timeout, c.Retry.InitialDelay, c.Retry.MaxDelay, c.Retry.Jitter, c.Retry.AttemptTimeout =
				time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond
		}},
		{"documented negatives", func(c *Config) {
			c.Timeout, c.Retry.Jitter, c.Retry.AttemptTimeout, c.Retry.BudgetRatio = -1, -1, -1, -1
		}},
		{"BudgetRatio 1", func(c *Config) { c.Retry.BudgetRatio = 1 }},
		{"HedgeBudget 1, HedgeDelay 1ms", func(c *Config) { c.StaleReads.HedgeBudget, c.StaleReads.HedgeDelay = 1, time.Millisecond }},
		{"MaxAttempts 1", func(c *Config) { c.Retry.MaxAttempts = 1 }},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Nodes: []string{"a:1"}}
			tc.mod(&cfg)
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		})
	}
}
