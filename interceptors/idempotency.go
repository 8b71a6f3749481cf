package interceptors

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"reflect"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// NewIdempotencyKey returns a random 128-bit key, hex-encoded. Code that
// builds its own write requests can set it as the request's
// idempotency_key: the Retry interceptor then sends the message as it is,
// without the copy it otherwise makes to carry a key.
func NewIdempotencyKey() string {
	var raw [16]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails on supported platforms
	var out [32]byte
	hex.Encode(out[:], raw[:])
	return string(out[:])
}

// idempotencyKeyField is the field every NoriKV write request carries its
// key in. Finding it by name on the descriptor covers every write type,
// present and future, with one setter.
const idempotencyKeyField protoreflect.Name = "idempotency_key"

// keyField returns msg's idempotency_key field, or nil if it has none.
func keyField(m protoreflect.Message) protoreflect.FieldDescriptor {
	fd := m.Descriptor().Fields().ByName(idempotencyKeyField)
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.Cardinality() == protoreflect.Repeated {
		return nil
	}
	return fd
}

// keying is what withIdempotencyKey decided for a message.
type keying struct {
	write bool   // the message has an idempotency_key field
	keyed bool   // it goes with a key
	seq   uint64 // the session sequence stamped, to give back; 0: none
}

// withIdempotencyKey returns the message to send for msg and how it is
// keyed. A message with a key, or with no idempotency_key field, or whose
// key the caller decided already (WithKeyDecided), is returned as it is.
// One whose key is empty gets an automatic session key from s when the
// cluster announces sessions: it is never written to, as the caller may
// send it again or share it between goroutines; a shallow copy with the
// key is returned instead. Otherwise it goes without a key.
func withIdempotencyKey(ctx context.Context, msg any, s *Session) (out any, k keying) {
	pm, ok := msg.(proto.Message)
	if !ok {
		return msg, k
	}
	m := pm.ProtoReflect()
	fd := keyField(m)
	if fd == nil {
		return msg, k
	}
	k.write = true
	if m.Get(fd).String() != "" {
		k.keyed = true
		return msg, k
	}
	if keyDecided(ctx) {
		return msg, k
	}
	key, seq := s.Stamp()
	if key == "" {
		return msg, k
	}
	k.keyed, k.seq = true, seq
	c := shallowCopy(m)
	c.Set(fd, protoreflect.ValueOfString(key))
	return c.Interface(), k
}

// shallowCopy copies m's top-level fields: bytes, lists, maps and
// sub-messages are shared, not copied, so a 1 MiB value costs nothing.
// The copy is only read (marshalled) and then dropped.
func shallowCopy(m protoreflect.Message) protoreflect.Message {
	c := m.New()
	// A loop rather than m.Range: Range's callback would escape and cost an
	// allocation per call.
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		if fd := fields.Get(i); m.Has(fd) {
			c.Set(fd, m.Get(fd))
		}
	}
	if u := m.GetUnknown(); len(u) > 0 {
		c.SetUnknown(u)
	}
	return c
}

// msgField returns the settable Msg field of the *connect.Request[T]
// behind req. connect.AnyRequest offers no way to change the message and
// only connect can make a Request (its spec, peer and headers are
// unexported), so the one field is set by reflection here. The field is
// recognised by identity (the first field, exported, holding exactly
// req.Any()), so a change of connect's layout makes this report false
// rather than write the wrong field.
func msgField(req connect.AnyRequest) (reflect.Value, bool) {
	v := reflect.ValueOf(req)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct || v.Elem().NumField() == 0 {
		return reflect.Value{}, false
	}
	f := v.Elem().Field(0)
	cur := reflect.ValueOf(req.Any())
	if !cur.IsValid() || !f.CanSet() || f.Kind() != reflect.Pointer || f.Type() != cur.Type() || f.Pointer() != cur.Pointer() {
		return reflect.Value{}, false
	}
	return f, true
}
