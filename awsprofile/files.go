package awsprofile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// sharedFiles is what the shared config and credentials files hold.
//
// Which section makes which profile follows botocore, the AWS CLI's engine
// (configloader.py's build_profile_map and Session.full_config): in a config
// file, a section named "profile" and one more word, that word split as a
// POSIX shell splits it ([profile "my profile"] is the profile "my
// profile"), and [default]; in a credentials file, every section by its
// name. Of two sections of one config file that name one profile
// ([profile default] and [default]), the later one is the profile, whole.
// A profile's keys from the credentials files win over those of the config
// files.
//
// Lines and values are read as the SDK's parser reads them, so that a
// value means here what it means in the aws.Config the SDK makes of the
// same files: a comment starts a line with # or ;, or follows a value
// after a space or tab; keys are lower case; a value in one pair of single
// or double quotes loses them. Where botocore refuses a file the SDK reads
// (a section or key twice in one file, a line of neither), the SDK's
// reading is kept: a repeated section adds its keys, a later key wins, an
// unreadable line is skipped.
type sharedFiles struct {
	profiles    map[string]*fileProfile // by name
	ssoSessions map[string]map[string]string
	// sections are the config files' sections that name no profile
	// (sso-session, services ...), verbatim, for sdkConfig's copy.
	sections []string
}

// fileProfile is one profile's keys.
type fileProfile struct {
	name   string
	config map[string]fileValue // from the config files
	creds  map[string]fileValue // from the credentials files
	// odd is set when the SDK's parser does not find the profile's config
	// keys under its name: a section name the SDK reads differently
	// (quotes, escapes), or both [default] and [profile default].
	odd bool
}

// fileValue is one key's value.
type fileValue struct {
	value string   // as the SDK reads it
	lines []string // as written, for sdkConfig's copy
	file  string   // the file it is from
}

// get returns the value of key: the credentials files', else the config
// files'. ok is false when neither has the key or its value is empty.
func (p *fileProfile) get(key string) (string, bool) {
	if p == nil {
		return "", false
	}
	if v, ok := p.creds[key]; ok && v.value != "" {
		return v.value, true
	}
	if v, ok := p.config[key]; ok && v.value != "" {
		return v.value, true
	}
	return "", false
}

// has reports whether get finds key.
func (p *fileProfile) has(key string) bool {
	_, ok := p.get(key)
	return ok
}

// maxSharedFileSize bounds what one config or credentials file may hold:
// they are a few KiB, and one that is not is no config file.
const maxSharedFileSize = 4 << 20

// readSharedFiles reads configFiles and credentialsFiles, later files
// overriding earlier ones key by key as the SDK merges them. A missing
// file is empty, as for the SDK and botocore.
func readSharedFiles(configFiles, credentialsFiles []string) (*sharedFiles, error) {
	f := &sharedFiles{profiles: map[string]*fileProfile{}, ssoSessions: map[string]map[string]string{}}
	for _, name := range configFiles {
		secs, err := readINI(name)
		if err != nil {
			return nil, err
		}
		f.addConfig(secs)
	}
	for _, name := range credentialsFiles {
		secs, err := readINI(name)
		if err != nil {
			return nil, err
		}
		for _, s := range secs {
			p := f.profile(s.name)
			if p.creds == nil {
				p.creds = map[string]fileValue{}
			}
			for k, v := range s.values {
				p.creds[k] = v
			}
		}
	}
	return f, nil
}

func (f *sharedFiles) profile(name string) *fileProfile {
	p := f.profiles[name]
	if p == nil {
		p = &fileProfile{name: name}
		f.profiles[name] = p
	}
	return p
}

// addConfig adds the sections of one config file.
func (f *sharedFiles) addConfig(secs []iniSection) {
	// made is the section name that made each profile of this file.
	made := map[string]string{}
	for _, s := range secs {
		kind, name, ok := configSection(s.name)
		switch {
		case !ok:
			f.sections = append(f.sections, s.text())
			continue
		case kind == "sso-session":
			if f.ssoSessions[name] == nil {
				f.ssoSessions[name] = map[string]string{}
			}
			for k, v := range s.values {
				f.ssoSessions[name][k] = v.value
			}
			f.sections = append(f.sections, s.text())
			continue
		case kind == "services":
			f.sections = append(f.sections, s.text())
			continue
		}
		p := f.profile(name)
		if prev, seen := made[name]; seen && prev != s.name {
			// botocore: the later section is the profile.
			p.config = nil
			p.odd = true
		}
		made[name] = s.name
		if sdkSectionProfile(s.name) != name {
			p.odd = true
		}
		if p.config == nil {
			p.config = map[string]fileValue{}
		}
		for k, v := range s.values {
			p.config[k] = v
		}
	}
}

// configSection says what a config file's section is, as botocore's
// build_profile_map reads its name: kind "profile" (with "default"),
// "sso-session" or "services", and the name it gives. ok is false for a
// section that is none of them.
func configSection(section string) (kind, name string, ok bool) {
	if section == "default" {
		return "profile", "default", true
	}
	for _, kind := range []string{"profile", "sso-session", "services"} {
		if !strings.HasPrefix(section, kind) {
			continue
		}
		parts, err := shellSplit(section)
		if err != nil || len(parts) != 2 {
			return "", "", false
		}
		return kind, parts[1], true
	}
	return "", "", false
}

// sdkSectionProfile is the profile the SDK's parser finds in a config
// file's section: the words after "profile " (or "default").
func sdkSectionProfile(section string) string {
	if section == "default" {
		return section
	}
	if rest, ok := strings.CutPrefix(section, "profile"); ok && rest != strings.TrimLeft(rest, " \t") {
		return strings.TrimSpace(rest)
	}
	return ""
}

// iniSection is one section of an INI file.
type iniSection struct {
	name   string
	header string               // the header line as written
	values map[string]fileValue // by lower-case key
	order  []string             // keys in the order first seen
}

// text is the section as written, for sdkConfig's copy.
func (s *iniSection) text() string {
	var b strings.Builder
	b.WriteString(s.header + "\n")
	for _, k := range s.order {
		for _, l := range s.values[k].lines {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// readINI reads one file as the SDK's parser reads lines. A missing file
// has no sections; one larger than maxSharedFileSize is refused.
func readINI(name string) ([]iniSection, error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSharedFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > maxSharedFileSize {
		return nil, fmt.Errorf("%s holds more than %d MiB: not an AWS config or credentials file", name, maxSharedFileSize>>20)
	}
	secs := parseINI(data)
	for _, s := range secs {
		for k, v := range s.values {
			v.file = name
			s.values[k] = v
		}
	}
	return secs, nil
}

// parseINI parses data as the SDK's parser does (config/internal/ini).
func parseINI(data []byte) []iniSection {
	var (
		secs []iniSection
		cur  *iniSection
		key  string // the key the next indented line belongs to
	)
	byName := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxSharedFileSize+1)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || isINIComment(line) {
			continue
		}
		if h := strings.TrimSpace(cutAny(line, "#", ";")); len(h) >= 2 && h[0] == '[' && h[len(h)-1] == ']' {
			name := strings.TrimSpace(h[1 : len(h)-1])
			i, ok := byName[name]
			if !ok {
				i = len(secs)
				byName[name] = i
				secs = append(secs, iniSection{name: name, header: line, values: map[string]fileValue{}})
			}
			cur, key = &secs[i], ""
			continue
		}
		if cur == nil {
			continue // the SDK ignores keys before the first section
		}
		indented := line[0] == ' ' || line[0] == '\t'
		if !indented {
			k, v, ok := splitINIProperty(strings.TrimRight(cutAny(line, " #", " ;", "\t#", "\t;"), " \t"))
			if ok {
				key = cur.set(k, unquoteINI(v), line)
			}
			continue
		}
		trimmed := strings.TrimLeft(line, " \t")
		if k, v, ok := splitINIProperty(trimmed); ok {
			if key == "" || cur.values[key].value != "" {
				// Indented, but not under a key that opened a block:
				// the SDK reads a key of its own.
				key = cur.set(k, unquoteINI(strings.TrimSpace(cutAny(v, " #", " ;", "\t#", "\t;"))), line)
				continue
			}
			cur.appendLine(key, "", line) // a key of a nested block (s3 = ...)
			continue
		}
		if key != "" {
			cur.appendLine(key, trimmed, line)
		}
	}
	return secs
}

// set stores key = value, from line, and returns the key.
func (s *iniSection) set(key, value, line string) string {
	key = strings.ToLower(key)
	if _, ok := s.values[key]; !ok {
		s.order = append(s.order, key)
	}
	s.values[key] = fileValue{value: value, lines: []string{line}}
	return key
}

// appendLine adds an indented line to key: a continuation of its value
// (more), or a line of a nested block (more empty).
func (s *iniSection) appendLine(key, more, line string) {
	v := s.values[key]
	if more != "" && v.value != "" {
		v.value += "\n" + more
	}
	v.lines = append(v.lines, line)
	s.values[key] = v
}

func isINIComment(line string) bool {
	t := strings.TrimLeft(line, " \t")
	return strings.HasPrefix(t, "#") || strings.HasPrefix(t, ";")
}

// cutAny returns s up to the first of seps.
func cutAny(s string, seps ...string) string {
	for _, sep := range seps {
		s, _, _ = strings.Cut(s, sep)
	}
	return s
}

// splitINIProperty splits "key = value" (or "key: value") at the first
// = or :, as the SDK does.
func splitINIProperty(s string) (key, value string, ok bool) {
	i := strings.IndexAny(s, "=:")
	if i < 0 {
		return "", "", false
	}
	key = strings.TrimSpace(s[:i])
	return key, strings.TrimSpace(s[i+1:]), key != ""
}

// unquoteINI removes one pair of single or double quotes around s: one
// rule for every key, as the SDK applies it to the keys it reads.
func unquoteINI(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// shellSplit splits s into words as Python's shlex.split does (POSIX
// mode, no comments): whitespace separates words; single quotes keep
// everything; double quotes keep everything but a backslash before
// \ " $ ` or a newline; a backslash outside quotes keeps the next
// character. An unclosed quote or a final backslash is an error.
func shellSplit(s string) ([]string, error) {
	var (
		words []string
		w     strings.Builder
		in    bool // a word has started
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if in {
				words, in = append(words, w.String()), false
				w.Reset()
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("no closing quotation")
			}
			w.WriteString(s[i+1 : i+1+j])
			i, in = i+1+j, true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`\n", s[i+1]) >= 0 {
					i++
				}
				w.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("no closing quotation")
			}
			in = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("no escaped character")
			}
			i++
			w.WriteByte(s[i])
			in = true
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words, nil
}
