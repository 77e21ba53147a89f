package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/web"
)

func stdin() io.Reader { return os.Stdin }

// runUsers manages dashboard users on a stopped server's data directory:
//
//	tracekit users create --data DIR --email E --password-stdin --project default [--admin]
//	tracekit users list --data DIR
func runUsers(ctx context.Context, args []string, in io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: tracekit users create|list --data DIR [flags]")
	}
	sub, args := args[0], args[1:]
	f := newFlags("users "+sub, stderr)
	data := f.string("data", "./tracekit-data", "data directory of the (stopped) server")
	email := f.String("email", "", "sign-in email of the new user (create)")
	fromStdin := f.Bool("password-stdin", false, "read the new user's password from the first line of standard input (create)")
	projects := f.String("project", auth.DefaultProject, "comma-separated projects the user belongs to (create)")
	admin := f.Bool("admin", false, "the user may also change server-wide settings such as retention (create)")
	if err := f.parse(args); err != nil {
		return err
	}
	st, err := openData(*data)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "create":
		if !*fromStdin {
			return errors.New("--password-stdin: pipe the password in (passwords on the command line end up in shell history)")
		}
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password from standard input: %w", err)
		}
		var ps []string
		for _, p := range strings.Split(*projects, ",") {
			if p = strings.TrimSpace(p); p != "" {
				ps = append(ps, p)
			}
		}
		u, err := web.CreateUser(ctx, st, *email, strings.TrimRight(line, "\r\n"), ps, *admin, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created user %s (%s), member of %s\n", u.Email, u.ID, strings.Join(u.Projects, ", "))
		return nil
	case "list":
		users, err := st.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tADMIN\tPROJECTS\tCREATED")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%t\t%s\t%s\n", u.ID, u.Email, u.Admin, strings.Join(u.Projects, ","), u.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown users command %q: use create or list", sub)
}
