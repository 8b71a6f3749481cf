package wire

import (
	"slices"
	"strconv"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// Client sessions (docs/idempotency-sessions.md): the convention by which
// exactly-once writes cost a server memory in proportion to its clients
// and their calls in flight, not to writes per second.
//
// A session key is an ordinary idempotency_key, so a server that ignores
// sessions treats it as an opaque key:
//
//	nks1.<client id>.<sequence>.<watermark>
//
// where the client id is SessionIDLen characters of the base64url
// alphabet (16 random bytes), the sequence numbers the client's writes 1,
// 2, 3, ... (a write sent again keeps its number, and its key byte for
// byte), and the watermark is the lowest sequence the client still awaited
// an answer for when it built the key (≤ the sequence; it only grows). Both
// numbers are decimal without leading zeros.

// SessionCapability is the ClusterView.capabilities name of a server that
// bounds idempotency memory and keeps client sessions. Clients give writes
// automatic idempotency keys only when the cluster announces it.
const SessionCapability = "idempotency-sessions/v1"

// SessionIDLen is the length of a session's client id.
const SessionIDLen = 22

const sessionPrefix = "nks1."

// SessionKeyMaxLen is the longest session key: the prefix, the id and two
// 20-digit numbers with their dots.
const SessionKeyMaxLen = len(sessionPrefix) + SessionIDLen + 2*21

// HasCapability reports whether view announces capability name.
func HasCapability(view *v1.ClusterView, name string) bool {
	return slices.Contains(view.GetCapabilities(), name)
}

// AppendSessionKey appends the session key of (id, seq, watermark) to dst.
func AppendSessionKey(dst []byte, id string, seq, watermark uint64) []byte {
	dst = append(dst, sessionPrefix...)
	dst = append(dst, id...)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, '.')
	return strconv.AppendUint(dst, watermark, 10)
}

// SessionKey is a parsed session key. ID aliases the key it was parsed
// from.
type SessionKey struct {
	ID        string
	Seq       uint64
	Watermark uint64
}

// ParseSessionKey parses an idempotency key in session form. ok is false
// for any other key, which is then an opaque caller's key: a key is a
// session key only if it matches the form exactly (sequence ≥ 1,
// watermark ≤ sequence).
func ParseSessionKey(key string) (k SessionKey, ok bool) {
	if len(key) < len(sessionPrefix)+SessionIDLen+4 || key[:len(sessionPrefix)] != sessionPrefix {
		return SessionKey{}, false
	}
	rest := key[len(sessionPrefix):]
	for i := range SessionIDLen {
		if !isBase64URL(rest[i]) {
			return SessionKey{}, false
		}
	}
	k.ID = rest[:SessionIDLen]
	rest = rest[SessionIDLen:]
	if rest[0] != '.' {
		return SessionKey{}, false
	}
	rest = rest[1:]
	var n int
	if k.Seq, n, ok = parseDecimal(rest); !ok || n == len(rest) || rest[n] != '.' {
		return SessionKey{}, false
	}
	rest = rest[n+1:]
	if k.Watermark, n, ok = parseDecimal(rest); !ok || n != len(rest) {
		return SessionKey{}, false
	}
	if k.Seq == 0 || k.Watermark > k.Seq {
		return SessionKey{}, false
	}
	return k, true
}

// parseDecimal reads the decimal number s starts with: no leading zeros,
// at most 20 digits, no overflow.
func parseDecimal(s string) (v uint64, n int, ok bool) {
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		d := uint64(s[n] - '0')
		if v > (1<<64-1-d)/10 {
			return 0, 0, false
		}
		v = v*10 + d
		n++
	}
	if n == 0 || n > 1 && s[0] == '0' {
		return 0, 0, false
	}
	return v, n, true
}

func isBase64URL(b byte) bool {
	return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_'
}
