package protocol

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// NewRecordID returns an ID for a snapshot or log line captured at t:
// 24 lowercase hex digits, t in Unix nanoseconds (16 digits, big-endian)
// then 4 random bytes (8 digits). SDKs name what they capture, so that the
// server stores an upload retried after a timeout once; the time in the ID
// lets stores file a record by day.
func NewRecordID(t time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixNano()))
	_, _ = rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

// RecordIDTime returns the capture time a record ID holds, and false when
// id is not 24 lowercase hex digits.
func RecordIDTime(id string) (time.Time, bool) {
	if len(id) != 24 {
		return time.Time{}, false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return time.Time{}, false
		}
	}
	raw, _ := hex.DecodeString(id)
	return time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8]))).UTC(), true
}
