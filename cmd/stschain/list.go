package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/keyring"
)

func listCommand() *command {
	return &command{
		name:  "list",
		args:  "[flags]",
		short: "list the profiles: their chains, keys in the keyring, cached sessions",
		long: `Lists every profile of the AWS config files, one a line: the kind of its
chain's root (static keys, keyring, SSO, credential_process ...), its
chain (the profile, then each source_profile down to the root), whose
keyring holds its keys (stschain's or aws-vault's), and when the session
of its role in the session cache (--cache-dir, default ~/.aws/cli/cache,
the AWS CLI's) expires. Profiles with keys in a keyring but in no config
file are listed too. It calls nothing, runs nothing and asks for no
passphrase. A profile that cannot be used is marked invalid, and why is
said on stderr. --json prints the same as a JSON array. Run "stschain help
keyring" for where the keys are.
`,
		flags: func(fs *flag.FlagSet, f *chainFlags) {
			keyringFlag(fs, f)
			fs.StringVar(&f.cacheDir, "cache-dir", "", "session cache `DIR` (default ~/.aws/cli/cache)")
			fs.BoolVar(&f.json, "json", false, "print a JSON array")
		},
		run: runList,
	}
}

// listRow is what list says of one profile; its JSON is what --json
// prints.
type listRow struct {
	Profile string
	// Root is the kind of the chain's root, RootProfile the profile that
	// holds it.
	Root        awsprofile.LinkKind `json:",omitempty"`
	RootProfile string              `json:",omitempty"`
	// Chain lists the profiles from this one down to the root.
	Chain []string `json:",omitempty"`
	// RoleARN is the role the chain ends with.
	RoleARN string `json:",omitempty"`
	// Keyring is whose keyring holds the profile's keys: "stschain" or
	// "aws-vault" (the one a chain uses, stschain's when both do).
	Keyring keyring.Service `json:",omitempty"`
	// InFiles is false for keys in a keyring whose profile is in no file.
	InFiles bool
	// SessionExpiration is when the session of RoleARN in the session
	// cache expires; absent when the cache has none.
	SessionExpiration *time.Time `json:",omitempty"`
	// Error says why the profile cannot be used.
	Error string `json:",omitempty"`
}

func runList(ctx context.Context, inv *invocation, f *chainFlags, _ []string) int {
	rows, err := listRows(ctx, inv, f)
	if err != nil {
		return fail(inv.stderr, err)
	}
	if f.json {
		enc := json.NewEncoder(inv.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return fail(inv.stderr, &cmdError{cmd: inv.cmd.name, err: err})
		}
		return exitOK
	}
	printList(inv.stdout, rows, time.Now())
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(inv.stderr, "stschain list: %s\n", r.Error)
		}
	}
	return exitOK
}

// listRows describes every profile of the files and the keyrings.
func listRows(ctx context.Context, inv *invocation, f *chainFlags) ([]listRow, error) {
	name := inv.cmd.name
	profiles, err := awsprofile.Profiles()
	if err != nil {
		return nil, &cmdError{cmd: name, err: err}
	}
	rings, err := newKeyrings(inv, f)
	if err != nil {
		return nil, usagef(name, "%w", err)
	}
	own, ownNames, err := keyringProfiles(ctx, rings.own, rings.explicit)
	switch {
	case err != nil && rings.explicit:
		return nil, &cmdError{cmd: name, err: err}
	case err != nil:
		fmt.Fprintf(inv.stderr, "stschain list: leaving out stschain's keyring: %s\n", flat(err))
	}
	vault, vaultNames, err := keyringProfiles(ctx, rings.awsVault, rings.awsVaultExplicit)
	if err != nil {
		fmt.Fprintf(inv.stderr, "stschain list: leaving out aws-vault's keyring: %s\n", flat(err))
	}
	// The keys a chain would take, from the names listed once.
	keys := func(_ context.Context, p string) (aws.CredentialsProvider, error) {
		switch {
		case slices.Contains(ownNames, p):
			return own.Provider(p), nil
		case slices.Contains(vaultNames, p):
			return vault.Provider(p), nil
		}
		return nil, nil
	}
	cache := listCache(inv, f)

	var rows []listRow
	for _, p := range profiles {
		rows = append(rows, profileRow(ctx, p, keys, cache))
	}
	for _, p := range slices.Concat(ownNames, vaultNames) {
		if !slices.Contains(profiles, p) && !slices.ContainsFunc(rows, func(r listRow) bool { return r.Profile == p }) {
			rows = append(rows, listRow{Profile: p})
		}
	}
	for i := range rows {
		switch {
		case slices.Contains(ownNames, rows[i].Profile):
			rows[i].Keyring = keyring.ServiceStschain
		case slices.Contains(vaultNames, rows[i].Profile):
			rows[i].Keyring = keyring.ServiceAWSVault
		}
	}
	slices.SortFunc(rows, func(a, b listRow) int { return strings.Compare(a.Profile, b.Profile) })
	return rows, nil
}

// keyringProfiles opens a keyring and lists its profiles; a keyring the
// user did not choose that cannot be opened has none.
func keyringProfiles(ctx context.Context, get func() (*keyring.Keyring, error), explicit bool) (*keyring.Keyring, []string, error) {
	k, err := open(get, explicit)
	if err != nil || k == nil {
		return nil, nil, err
	}
	names, err := k.Profiles(ctx)
	return k, names, err
}

// listCache is the session cache whose sessions list reads: --cache-dir,
// else the AWS CLI's; nil when it does not exist (list creates nothing) or
// the cache refuses it, which a line on stderr then says.
func listCache(inv *invocation, f *chainFlags) stschain.Cache {
	dir, err := cacheDir(f)
	if err != nil {
		return nil
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	c, err := stschain.NewFileCache(dir)
	if err != nil {
		fmt.Fprintf(inv.stderr, "stschain list: leaving out the cached sessions: %s\n", flat(err))
		return nil
	}
	return c
}

// profileRow describes profile: its chain, as the chain commands would
// build it with keys, and its role's cached session.
func profileRow(ctx context.Context, profile string, keys awsprofile.KeysFunc, cache stschain.Cache) listRow {
	row := listRow{Profile: profile, InFiles: true}
	var top *stschain.Options // of the top role link, recorded as it is made
	chain, err := awsprofile.LoadChain(ctx, profile, func(o *awsprofile.Options) {
		o.Keys = keys
		o.LinkOptions = []func(*stschain.Options){func(so *stschain.Options) {
			c := *so
			top = &c
		}}
	})
	if err != nil {
		row.Error = flat(err)
		return row
	}
	root := chain.Links[0]
	row.Root, row.RootProfile = root.Kind, root.Profile
	row.Chain = []string{profile}
	for i := len(chain.Links) - 1; i >= 0; i-- {
		if p := chain.Links[i].Profile; p != "" && row.Chain[len(row.Chain)-1] != p {
			row.Chain = append(row.Chain, p)
		}
		if row.RoleARN == "" {
			row.RoleARN = chain.Links[i].RoleARN
		}
	}
	if top != nil && cache != nil {
		if c, ok := cachedSession(ctx, cache, *top); ok && c.CanExpire {
			row.SessionExpiration = &c.Expires
		}
	}
	return row
}

// printList writes rows as a table, the sessions' expiry relative to now,
// the names from the files quoted.
func printList(w io.Writer, rows []listRow, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tROOT\tCHAIN\tKEYRING\tSESSION")
	for _, r := range rows {
		chain := make([]string, len(r.Chain))
		for i, p := range r.Chain {
			chain[i] = quote(p)
		}
		root, chainText, session, ring := string(r.Root), strings.Join(chain, " -> "), "-", string(r.Keyring)
		switch {
		case r.Error != "":
			root, chainText = "invalid", "-"
		case !r.InFiles:
			root, chainText = "-", "(in no config file)"
		}
		if r.SessionExpiration != nil {
			session = r.SessionExpiration.UTC().Format(time.RFC3339) + " (" + untilText(r.SessionExpiration.Sub(now)) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", quote(r.Profile), root, chainText, cmp.Or(ring, "-"), session)
	}
	_ = tw.Flush()
}

// untilText says how long d is, to the minute: "in 1h05m", "in 12m".
func untilText(d time.Duration) string {
	if d < time.Minute {
		return "in under a minute"
	}
	d = d.Truncate(time.Minute)
	if h := d / time.Hour; h > 0 {
		return fmt.Sprintf("in %dh%02dm", h, (d%time.Hour)/time.Minute)
	}
	return fmt.Sprintf("in %dm", d/time.Minute)
}
