package httpapi

import (
	"bytes"
	"net/http"
)

// Buffer is an http.ResponseWriter that holds an answer in memory: its
// status (200 unless WriteHeader says otherwise), header and body. The
// idempotency middleware holds an answer in one until its record is
// durable; the GraphQL transport reads the answers of its in-process
// REST requests from one.
type Buffer struct {
	Status int
	Body   bytes.Buffer
	header http.Header
}

// NewBuffer is an empty answer whose header is h (nil: a header of its
// own).
func NewBuffer(h http.Header) *Buffer {
	if h == nil {
		h = http.Header{}
	}
	return &Buffer{Status: http.StatusOK, header: h}
}

func (b *Buffer) Header() http.Header         { return b.header }
func (b *Buffer) Write(p []byte) (int, error) { return b.Body.Write(p) }
func (b *Buffer) WriteHeader(status int)      { b.Status = status }
