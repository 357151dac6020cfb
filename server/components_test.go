package server

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// fakeWorker records its lifecycle calls in a shared journal.
type fakeWorker struct {
	name     string
	journal  *[]string
	startErr error
}

func (w *fakeWorker) Start(context.Context) error {
	*w.journal = append(*w.journal, "start "+w.name)
	return w.startErr
}

func (w *fakeWorker) Close() error {
	*w.journal = append(*w.journal, "close "+w.name)
	return nil
}

func closer(name string, journal *[]string, err error) func() error {
	return func() error {
		*journal = append(*journal, "closer "+name)
		return err
	}
}

func TestComponentsLifecycle(t *testing.T) {
	var j []string
	c := &Components{
		Workers: []worker{&fakeWorker{name: "a", journal: &j}, &fakeWorker{name: "b", journal: &j}},
		Closers: []func() error{closer("x", &j, nil), closer("y", &j, errors.New("flush failed"))},
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	err := c.Close()
	want := []string{"start a", "start b", "close b", "close a", "closer y", "closer x"}
	if !reflect.DeepEqual(j, want) {
		t.Fatalf("calls = %v, want %v", j, want)
	}
	if err == nil || !strings.Contains(err.Error(), "flush failed") {
		t.Fatalf("close = %v, want the closer's error", err)
	}
}

func TestComponentsStartFailureUnwinds(t *testing.T) {
	var j []string
	c := &Components{
		Workers: []worker{
			&fakeWorker{name: "a", journal: &j},
			&fakeWorker{name: "b", journal: &j, startErr: errors.New("no log")},
			&fakeWorker{name: "c", journal: &j},
		},
		Closers: []func() error{closer("x", &j, nil)},
	}
	err := c.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "start *server.fakeWorker: no log") {
		t.Fatalf("start = %v", err)
	}
	want := []string{"start a", "start b", "close a", "closer x"}
	if !reflect.DeepEqual(j, want) {
		t.Fatalf("calls = %v, want %v", j, want)
	}
}
