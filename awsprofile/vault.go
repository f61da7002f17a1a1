package awsprofile

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// vaultKeys are the aws-vault settings of one profile's role link, which
// the SDK's SharedConfig does not expose.
type vaultKeys struct {
	sourceIdentity string
	tags           map[string]string
	transitiveTags []string
	mfaProcess     string
}

// vault returns the aws-vault keys of p: source_identity, session_tags
// ("key=value,key=value"), transitive_session_tags ("key,key") and
// mfa_process, in aws-vault's formats.
func vault(p *fileProfile) (vaultKeys, error) {
	get := func(k string) string { v, _ := p.get(k); return v }
	v := vaultKeys{sourceIdentity: get("source_identity"), mfaProcess: get("mfa_process")}
	if s := get("session_tags"); s != "" {
		v.tags = map[string]string{}
		for _, pair := range strings.Split(s, ",") {
			k, val, ok := strings.Cut(pair, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				return vaultKeys{}, fmt.Errorf("session_tags %q is not key=value,key=value", s)
			}
			v.tags[k] = strings.TrimSpace(val)
		}
	}
	if s := get("transitive_session_tags"); s != "" {
		for _, k := range strings.Split(s, ",") {
			if k = strings.TrimSpace(k); k != "" {
				v.transitiveTags = append(v.transitiveTags, k)
			}
		}
		for _, k := range v.transitiveTags {
			if _, ok := v.tags[k]; !ok {
				return vaultKeys{}, fmt.Errorf("transitive_session_tags names %q, which is not a key of session_tags (%s)",
					k, strings.Join(slices.Sorted(maps.Keys(v.tags)), ", "))
			}
		}
	}
	return v, nil
}
