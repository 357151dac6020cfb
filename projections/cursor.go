package projections

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

// cursorVersion is the first byte of every cursor, so the format can
// change without misreading old cursors.
const cursorVersion = 1

// EncodeCursor returns the opaque cursor of List that points just after
// the document at (sort, id). Every Store uses it, so a cursor means the
// same position on the memory and the postgres store. The format is
// base64url (no padding) of: version byte 1, uvarint len(sort), sort, id.
func EncodeCursor(sort, id string) string {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(sort)+len(id))
	b = append(b, cursorVersion)
	b = binary.AppendUvarint(b, uint64(len(sort)))
	b = append(b, sort...)
	b = append(b, id...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor returns the position EncodeCursor encoded in c. It returns
// an error wrapping ErrInvalid for anything EncodeCursor cannot have made.
func DecodeCursor(c string) (sort, id string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 2 || b[0] != cursorVersion {
		return "", "", fmt.Errorf("%w: malformed cursor", ErrInvalid)
	}
	n, w := binary.Uvarint(b[1:])
	rest := b[1+max(w, 0):]
	if w <= 0 || n > uint64(len(rest)) || len(rest)-int(n) == 0 {
		return "", "", fmt.Errorf("%w: malformed cursor", ErrInvalid)
	}
	return string(rest[:n]), string(rest[n:]), nil
}
