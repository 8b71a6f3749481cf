// Package validation checks NoriKV messages against the schema's rules —
// the protovalidate annotations in proto/ plus proto3's requirement that
// strings be valid UTF-8 — and reports a violation as INVALID_ARGUMENT
// naming the field and the limit.
//
// The client runs it before sending (no round trip for bad input) and the
// server on every request, so both answer the same way.
package validation

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

var (
	once      sync.Once
	validator protovalidate.Validator
	initErr   error
)

// Check returns nil if m obeys the schema, or an INVALID_ARGUMENT
// *connect.Error whose message names the field and the rule ("key: value
// length must be at most 1024 bytes") and whose detail is protovalidate's
// structured Violations. A rule the validator cannot evaluate is a bug of
// ours and comes back as INTERNAL.
func Check(m proto.Message) *connect.Error {
	once.Do(func() { validator, initErr = protovalidate.New() })
	if initErr != nil {
		return connect.NewError(connect.CodeInternal, fmt.Errorf("protovalidate: %w", initErr))
	}
	err := validator.Validate(m)
	if err == nil {
		// Limits first, so a message breaking both names every limit.
		return checkUTF8(m.ProtoReflect())
	}
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		return connect.NewError(connect.CodeInternal, err)
	}
	cerr := connect.NewError(connect.CodeInvalidArgument, reworded{ve})
	if d, derr := connect.NewErrorDetail(ve.ToProto()); derr == nil {
		cerr.AddDetail(d)
	}
	return cerr
}

// checkUTF8 catches string fields protobuf would refuse to marshal. Without
// it a non-UTF-8 namespace fails deep in the codec as INTERNAL "marshal
// message", which names neither the field nor the rule. Request messages
// keep their strings at the top level, so one level is enough.
func checkUTF8(m protoreflect.Message) *connect.Error {
	// A plain loop rather than m.Range: Range's closure escapes and costs
	// two allocations on every call, client and server side.
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.Kind() != protoreflect.StringKind || fd.IsList() || fd.IsMap() {
			continue
		}
		if !utf8.ValidString(m.Get(fd).String()) {
			return connect.NewError(connect.CodeInvalidArgument,
				fmt.Errorf("%s: value must be valid UTF-8 [string.utf8]", fd.Name()))
		}
	}
	return nil
}

// wording mends protovalidate's English where a limit of one makes it read
// wrong: a key or id that "must be at least 1 bytes" must not be empty.
var wording = strings.NewReplacer("must be at least 1 bytes", "must not be empty (at least 1 byte)")

// reworded is a validation error with wording's message; errors.As still
// finds the *protovalidate.ValidationError.
type reworded struct {
	ve *protovalidate.ValidationError
}

func (r reworded) Error() string { return wording.Replace(r.ve.Error()) }
func (r reworded) Unwrap() error { return r.ve }
