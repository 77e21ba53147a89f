package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/store"
)

// runProjects manages projects on a stopped server's data directory:
//
//	tracekit projects create --data DIR --name "Shop" shop
//	tracekit projects list --data DIR
//
// Creating a project also mints its first admin key, printed once.
func runProjects(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: tracekit projects create|list --data DIR [flags]")
	}
	sub, args := args[0], args[1:]
	f := newFlags("projects "+sub, stderr)
	data := f.string("data", "./tracekit-data", "data directory of the (stopped) server")
	name := f.String("name", "", "display name of the new project (create; default: its ID)")
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
		if f.NArg() != 1 {
			return errors.New("usage: tracekit projects create --data DIR [--name NAME] PROJECT_ID")
		}
		id := f.Arg(0)
		if err := auth.ValidProjectID(id); err != nil {
			return err
		}
		if *name == "" {
			*name = id
		}
		now := time.Now()
		if err := st.CreateProject(ctx, store.Project{ID: id, Name: *name, CreatedAt: now.UTC()}); err != nil {
			return err
		}
		secret, k, err := auth.CreateKey(ctx, st, id, "first admin key", store.ScopeAdmin, "", now)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created project %s (%s) and its admin key %s; the secret is shown only once:\n%s\n", id, *name, k.ID, secret)
		return nil
	case "list":
		ps, err := st.ListProjects(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCREATED")
		for _, p := range ps {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", p.ID, p.Name, p.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown projects command %q: use create or list", sub)
}
