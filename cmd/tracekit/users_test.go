package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
)

func TestUsersCreate(t *testing.T) {
	dir := t.TempDir()
	st, err := pebble.Open(dir, pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateProject(context.Background(), store.Project{ID: "default", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	users := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := runUsers(context.Background(), append(args, "--data", dir), strings.NewReader(stdin), &out, io.Discard)
		return out.String(), err
	}
	if _, err := users("pw-from-stdin\n", "create", "--email", "dev@example.com"); err == nil || !strings.Contains(err.Error(), "--password-stdin") {
		t.Errorf("create without --password-stdin: %v", err)
	}
	if out, err := users("pw-from-stdin\n", "create", "--email", "dev@example.com", "--password-stdin", "--project", "default"); err != nil || !strings.Contains(out, "created user dev@example.com") {
		t.Fatalf("create: %q, %v", out, err)
	}
	if _, err := users("pw-from-stdin\n", "create", "--email", "x@example.com", "--password-stdin", "--project", "nope"); err == nil {
		t.Error("a user of a missing project was created")
	}
	if out, err := users("", "list"); err != nil || !strings.Contains(out, "dev@example.com") {
		t.Errorf("list: %q, %v", out, err)
	}
	st, err = pebble.Open(dir, pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.UserByEmail(context.Background(), "dev@example.com")
	if err != nil || !u.MemberOf("default") || u.Admin || bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("pw-from-stdin")) != nil {
		t.Errorf("stored user = %+v, %v", u, err)
	}
}
