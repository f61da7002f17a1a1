// Command testtimes reads the events of `go test -json` on stdin and prints
// what go test prints without -v (a line per package, the output of failed
// tests and packages, build errors), then each package's time and its
// slowest tests. It exits 1 when a build, a test or a package failed.
//
//	go test -race -count=1 -json ./... | go run .ci/testtimes.go
package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// event is a test2json event (go doc test2json); build events name their
// package in ImportPath.
type event struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Elapsed    float64
	Output     string
}

// pkg is what one package's events said.
type pkg struct {
	name    string
	result  string // pass, fail or skip; empty until the package ends
	elapsed float64
	tests   []testTime                  // top-level tests that passed or failed
	output  map[string]*strings.Builder // by test name, "" for the package
}

type testTime struct {
	name    string
	elapsed float64
}

// slowestN is how many tests the summary names per package.
const slowestN = 3

func main() {
	pkgs, failed, err := read(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testtimes:", err)
		os.Exit(2)
	}
	summarize(os.Stdout, pkgs)
	if failed {
		os.Exit(1)
	}
}

// read prints results to w as the events arrive, and returns the packages
// in the order they ended, and whether anything failed.
func read(r io.Reader, w io.Writer) (ended []*pkg, failed bool, err error) {
	byName := map[string]*pkg{}
	get := func(name string) *pkg {
		p, ok := byName[name]
		if !ok {
			p = &pkg{name: name, output: map[string]*strings.Builder{}}
			byName[name] = p
		}
		return p
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// Not an event: go test's own message; pass it on.
			fmt.Fprintln(w, sc.Text())
			continue
		}
		switch e.Action {
		case "build-output":
			fmt.Fprint(w, e.Output)
			continue
		case "build-fail":
			failed = true
			continue
		}
		p := get(e.Package)
		switch e.Action {
		case "output":
			b, ok := p.output[e.Test]
			if !ok {
				b = &strings.Builder{}
				p.output[e.Test] = b
			}
			b.WriteString(e.Output)
		case "pass", "fail", "skip":
			if e.Action == "fail" {
				failed = true
			}
			if e.Test != "" {
				if e.Action == "fail" {
					fmt.Fprint(w, p.text(e.Test))
				}
				if e.Action != "skip" && !strings.Contains(e.Test, "/") {
					p.tests = append(p.tests, testTime{e.Test, e.Elapsed})
				}
				continue
			}
			p.result, p.elapsed = e.Action, e.Elapsed
			ended = append(ended, p)
			switch e.Action {
			case "fail":
				fmt.Fprint(w, p.text(""))
			case "pass":
				fmt.Fprintf(w, "ok  \t%s\t%.3fs\n", p.name, p.elapsed)
			case "skip":
				fmt.Fprintf(w, "?   \t%s\t[no test files]\n", p.name)
			}
		}
	}
	return ended, failed, sc.Err()
}

func (p *pkg) text(test string) string {
	if b, ok := p.output[test]; ok {
		return b.String()
	}
	return ""
}

// summarize prints each package that ran tests, slowest first, with its
// slowest tests.
func summarize(w io.Writer, pkgs []*pkg) {
	pkgs = slices.DeleteFunc(slices.Clone(pkgs), func(p *pkg) bool { return len(p.tests) == 0 })
	slices.SortStableFunc(pkgs, func(a, b *pkg) int { return cmp.Compare(b.elapsed, a.elapsed) })
	fmt.Fprintf(w, "\npackage times, and the %d slowest tests of each:\n", slowestN)
	for _, p := range pkgs {
		slices.SortStableFunc(p.tests, func(a, b testTime) int { return cmp.Compare(b.elapsed, a.elapsed) })
		var slow []string
		for _, t := range p.tests[:min(slowestN, len(p.tests))] {
			slow = append(slow, fmt.Sprintf("%s %.1fs", t.name, t.elapsed))
		}
		fmt.Fprintf(w, "%7.1fs  %s: %s\n", p.elapsed, p.name, strings.Join(slow, ", "))
	}
}
