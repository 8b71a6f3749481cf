package wire

import (
	"strings"
	"testing"
)

func TestSessionKeyRoundTrip(t *testing.T) {
	id := strings.Repeat("aZ9-_", 5)[:SessionIDLen]
	for _, c := range []struct{ seq, low uint64 }{{1, 1}, {1, 0}, {42, 7}, {1<<64 - 1, 1<<64 - 1}} {
		key := string(AppendSessionKey(nil, id, c.seq, c.low))
		if len(key) > SessionKeyMaxLen {
			t.Fatalf("%q: %d bytes, max %d", key, len(key), SessionKeyMaxLen)
		}
		k, ok := ParseSessionKey(key)
		if !ok || k.ID != id || k.Seq != c.seq || k.Watermark != c.low {
			t.Fatalf("ParseSessionKey(%q) = %+v, %v", key, k, ok)
		}
	}
}

func TestSessionKeyRejectsOtherKeys(t *testing.T) {
	id := strings.Repeat("a", SessionIDLen)
	for _, key := range []string{
		"", "0123456789abcdef0123456789abcdef", "nks1." + id,
		"nks1." + id + ".1", "nks1." + id + ".1.", "nks1." + id + "..1",
		"nks1." + id + ".0.0", // sequence 0
		"nks1." + id + ".5.6", // watermark above the sequence
		"nks1." + id + ".01.1", "nks1." + id + ".1.1x",
		"nks1." + id + ".18446744073709551616.1", // overflow
		"nks1." + strings.Repeat("a", SessionIDLen-1) + "!.1.1",
		"nks2." + id + ".1.1",
	} {
		if k, ok := ParseSessionKey(key); ok {
			t.Errorf("ParseSessionKey(%q) = %+v, want not a session key", key, k)
		}
	}
}
