package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/stschain/stschain/awsprofile"
)

// profileNames lists the profiles of the AWS config files, sorted, as
// awsprofile reads them: the config file is AWS_CONFIG_FILE, else
// ~/.aws/config, the credentials file AWS_SHARED_CREDENTIALS_FILE, else
// ~/.aws/credentials, as env (the command's environment) says. Files that
// cannot be read give none: the names only help, the chain decides.
func profileNames(env func(string) string) []string {
	home := env("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	names, err := awsprofile.Profiles(func(o *awsprofile.Options) {
		o.ConfigFiles = []string{cmp.Or(env("AWS_CONFIG_FILE"), filepath.Join(home, ".aws", "config"))}
		o.CredentialsFiles = []string{cmp.Or(env("AWS_SHARED_CREDENTIALS_FILE"), filepath.Join(home, ".aws", "credentials"))}
	})
	if err != nil {
		return nil
	}
	return names
}

// nearestProfiles returns up to three of names that word may be a typo
// of, nearest first: those within a few edits (a swap of two letters is
// one), and those word begins or that begin with word.
func nearestProfiles(word string, names []string) []string {
	type near struct {
		name string
		d    int
	}
	limit := 1 + utf8.RuneCountInString(word)/4
	var found []near
	lw := strings.ToLower(word)
	for _, n := range names {
		ln := strings.ToLower(n)
		d := editDistance(lw, ln)
		if d > limit && len(lw) >= 3 && (strings.HasPrefix(ln, lw) || strings.HasPrefix(lw, ln)) {
			d = limit
		}
		if d <= limit && n != word {
			found = append(found, near{n, d})
		}
	}
	slices.SortStableFunc(found, func(a, b near) int { return cmp.Compare(a.d, b.d) })
	var out []string
	for _, f := range found[:min(len(found), 3)] {
		out = append(out, f.name)
	}
	return out
}

// editDistance is the optimal string alignment distance of a and b: the
// insertions, deletions, substitutions and swaps of neighbours that turn
// one into the other.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// didYouMean is "; did you mean A, B or C?" for names, "" for none.
func didYouMean(names []string) string {
	if len(names) == 0 {
		return ""
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	if len(q) == 1 {
		return "; did you mean " + q[0] + "?"
	}
	return "; did you mean " + strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1] + "?"
}

// notFoundError is exec's first word when it names neither a profile nor
// a command: exit status 127, as for a command that is not found.
type notFoundError struct {
	cmd  string   // the subcommand
	word string   // what was given
	near []string // the profiles it may stand for
}

func (e *notFoundError) Error() string {
	return fmt.Sprintf("stschain %s: %s is neither a profile of the AWS config files nor a command on PATH%s",
		e.cmd, quote(e.word), didYouMean(e.near))
}

// profileHint is what fail adds to an error for a profile that is in none
// of the files: the profiles it may stand for.
func profileHint(err error) string {
	var ce *awsprofile.ConfigError
	if !errors.Is(err, awsprofile.ErrProfileNotFound) || !errors.As(err, &ce) {
		return ""
	}
	return didYouMean(nearestProfiles(ce.Profile, profileNames(os.Getenv)))
}
