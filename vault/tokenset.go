package vault

import (
	"encoding/binary"
	"encoding/json"
	"errors"
)

// The plaintext of a sealed token set. Version 1 (tokenSetV1, the first
// byte) is binary: the access and the refresh token, each as a uvarint
// length and its bytes: 5 bytes of framing where the JSON of earlier
// token sets (still opened: their first byte is '{') took 37, so a
// credential's document is some 45 bytes of base64 shorter per token set
// (issue 15's memory per credential).
const tokenSetV1 = 0x01

// encodeTokenSet is ts's plaintext to seal.
func encodeTokenSet(ts tokenSet) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(ts.AccessToken)+len(ts.RefreshToken))
	b = append(b, tokenSetV1)
	b = binary.AppendUvarint(b, uint64(len(ts.AccessToken)))
	b = append(b, ts.AccessToken...)
	b = binary.AppendUvarint(b, uint64(len(ts.RefreshToken)))
	return append(b, ts.RefreshToken...)
}

var errTokenSet = errors.New("vault: malformed token set")

// decodeTokenSet reads a plaintext encodeTokenSet wrote, or the JSON of
// a token set sealed before it.
func decodeTokenSet(b []byte) (tokenSet, error) {
	var ts tokenSet
	if len(b) > 0 && b[0] == '{' {
		return ts, json.Unmarshal(b, &ts)
	}
	if len(b) == 0 || b[0] != tokenSetV1 {
		return ts, errTokenSet
	}
	b = b[1:]
	next := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	var ok bool
	if ts.AccessToken, ok = next(); !ok {
		return tokenSet{}, errTokenSet
	}
	if ts.RefreshToken, ok = next(); !ok || len(b) != 0 {
		return tokenSet{}, errTokenSet
	}
	return ts, nil
}
