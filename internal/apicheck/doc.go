// Package apicheck guards the names the project's issues fixed as its API:
// the names code outside this repository compiles against.
//
// The package has no code of its own. Its test, in package apicheck_test,
// refers to every fixed Go name of the module's packages, with the
// signature, field type or interface the issue gave it, grouped by issue.
// A change that renames or removes one of them, or changes its type, stops
// the test from compiling, so that go vet and go test fail before such a
// change is merged.
//
// The command's fixed subcommands and flags live in package main, which no
// test can import; the command's own tests keep them.
package apicheck
