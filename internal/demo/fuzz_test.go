package demo

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzErrorMessage decodes arbitrary error bodies as the server's answer:
// the message must come out short, valid UTF-8 and free of control
// characters, whatever a server or proxy sent.
func FuzzErrorMessage(f *testing.F) {
	f.Add("application/x-protobuf", []byte("\x08\x10\x12\x0finvalid API key"))
	f.Add("application/json", []byte(`{"code":16,"message":"invalid API key"}`))
	f.Add("text/plain", []byte("upstream \x1b[31mconnect\x00 error\xff"))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		msg := errorMessage(contentType, body)
		if !utf8.ValidString(msg) || len(msg) > 300+len("…") {
			t.Fatalf("message %q is not short valid UTF-8", msg)
		}
		if strings.ContainsFunc(msg, unicode.IsControl) {
			t.Fatalf("message %q holds a control character", msg)
		}
	})
}
