package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunWritesTheReport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a load")
	}
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"-nodes", "1", "-duration", "1s", "-overload", "1s", "-overload-clients", "8",
		"-overload-inflight", "2", "-settle", "300ms", "-out", "-"}, &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, errs.String())
	}
	for _, want := range []string{"# Load test", "### One node", "| exec |", "| paid |", "| search |", "### Overload", "check: passed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if code := run(context.Background(), []string{"-nodes", "x"}, &out, &errs); code != 2 {
		t.Fatalf("bad -nodes: exit %d", code)
	}
}
