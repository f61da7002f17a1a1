package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stschain/stschain"
	"github.com/stschain/stschain/awsprofile"
	"github.com/stschain/stschain/internal/stslimits"
)

// loginFlags are the flags of login alone.
type loginFlags struct {
	stdout          bool
	federationURL   string
	consoleDuration durationFlag
}

// Bounds of the console's sessions, as the federation endpoint takes
// them: SessionDuration of a role session; the longest session
// GetFederationToken issues.
const (
	maxConsoleDuration    = 12 * time.Hour
	maxFederationDuration = 36 * time.Hour
	// signinTimeout bounds the federation endpoint's answer.
	signinTimeout = 30 * time.Second
	// maxSigninAnswer bounds what is read of it: a token is a few KiB.
	maxSigninAnswer = 64 << 10
)

// federationPolicy is the session policy of a GetFederationToken session:
// everything the user may do, since a federated user may do only what
// both the user's policies and this one allow (aws-vault's).
const federationPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

func loginCommand() *command {
	return &command{
		name:       "login",
		args:       "[flags] [PROFILE]",
		profileArg: true,
		short:      "open the AWS console with the credentials",
		long: `Opens the AWS console in the browser, signed in with the credentials of
the chain's last link, through the federation endpoint: a role's session
as it is (for as long as it lasts, or --console-duration; AWS takes no
duration for a role assumed with another session), long-term keys
through a GetFederationToken session first, as aws-vault does. The
sign-in URL is good for 15 minutes; --stdout prints it instead, alone.
`,
		example: `  stschain login admin
  stschain login admin --stdout | xclip
`,
		flags: func(fs *flag.FlagSet, f *chainFlags) {
			chainFlagSet(fs, f)
			fs.BoolVar(&f.login.stdout, "stdout", false, "print the sign-in URL instead of opening it")
			fs.StringVar(&f.login.federationURL, "federation-url", "", "federation endpoint `URL` (default the partition's)")
			fs.Var(&f.login.consoleDuration, "console-duration", "how long the console session lasts, `DUR`")
		},
		run: runLogin,
	}
}

func runLogin(ctx context.Context, inv *invocation, f *chainFlags, _ []string) int {
	ctx, stop := withSignals(ctx)
	defer stop()
	c, err := buildChain(ctx, inv, f)
	if err != nil {
		return fail(inv.stderr, err)
	}
	loginURL, err := signIn(ctx, inv, f, c)
	if err != nil {
		if sig := signalOf(ctx); sig != nil {
			return interrupted(inv.stderr, sig)
		}
		return fail(inv.stderr, err)
	}
	if f.login.stdout {
		fmt.Fprintln(inv.stdout, loginURL)
		return exitOK
	}
	if err := openBrowser(loginURL); err != nil {
		return fail(inv.stderr, &cmdError{cmd: inv.cmd.name, err: fmt.Errorf("%w; --stdout prints the URL instead", err)})
	}
	return exitOK
}

// consoleSession is how the chain's credentials reach the console.
type consoleSession int

const (
	// asRoleSession: a role session assumed with long-term keys, to
	// which the console may be given a duration.
	asRoleSession consoleSession = iota
	// asChainedSession: a role session assumed with another session, or
	// the session of a root that is one (SSO, a container, an instance):
	// AWS takes it with no duration.
	asChainedSession
	// asFederatedUser: long-term keys, which the console does not take,
	// exchanged for a GetFederationToken session.
	asFederatedUser
)

// signIn returns the console sign-in URL of the chain c of f.
func signIn(ctx context.Context, inv *invocation, f *chainFlags, c *chain) (string, error) {
	name := inv.cmd.name
	fedURL, err := federationEndpoint(f.login.federationURL, c.region)
	if err != nil {
		return "", usagef(name, "%w", err)
	}
	kind, err := consoleKind(ctx, name, f, c)
	if err != nil {
		return "", err
	}
	d := time.Duration(f.login.consoleDuration)
	switch {
	case kind == asChainedSession && d != 0:
		return "", usagef(name, "--console-duration: AWS takes no console duration for a role assumed with another session (role chaining, an SSO or instance role): leave it out")
	case kind == asFederatedUser && d != 0:
		err = checkDuration("--console-duration", f.login.consoleDuration, maxFederationDuration)
	default:
		err = checkDuration("--console-duration", f.login.consoleDuration, maxConsoleDuration)
	}
	if err != nil {
		return "", usagef(name, "%w", err)
	}

	var creds aws.Credentials
	if kind == asFederatedUser {
		creds, err = federatedSession(ctx, c, d)
		d = 0 // the federated session's length is the console's
	} else {
		creds, err = topProvider(f, c).Retrieve(ctx)
		if err != nil && !errors.As(err, new(*stschain.Error)) {
			err = &cmdError{cmd: name, err: err} // not stschain's own message
		}
	}
	if err != nil {
		return "", err
	}
	if kind == asRoleSession && d == 0 && creds.CanExpire {
		// The console lasts as long as the session it signs in with.
		d = min(max(time.Until(creds.Expires).Truncate(time.Second), stslimits.MinDuration), maxConsoleDuration)
	}
	token, err := signinToken(ctx, fedURL, creds, d)
	if err != nil {
		return "", &cmdError{cmd: name, err: err}
	}
	q := url.Values{}
	q.Set("Action", "login")
	q.Set("Issuer", "stschain")
	q.Set("Destination", consoleURL(c.region))
	q.Set("SigninToken", token)
	return fedURL + "?" + q.Encode(), nil
}

// topProvider is what gives the chain's last credentials: the last
// --role-arn's link, else the profile's top (a role, or its root); never
// the GetSessionToken link buildChain puts on a chain without a role,
// which the console would not take.
func topProvider(f *chainFlags, c *chain) aws.CredentialsProvider {
	if len(f.roleARNs) > 0 {
		return c.provider
	}
	return c.base.Config.Credentials
}

// consoleKind says how the credentials of c, built from f, reach the
// console. A chain whose top is a GetSessionToken session the flags asked
// for is refused: the console takes no such session, and GetFederationToken
// takes none either.
func consoleKind(ctx context.Context, name string, f *chainFlags, c *chain) (consoleSession, error) {
	roles, gst := len(f.roleARNs), f.sessionDuration != 0 || (f.mfaSerial != "" && len(f.roleARNs) == 0)
	for _, l := range c.base.Links {
		switch l.Kind {
		case awsprofile.KindAssumeRole, awsprofile.KindWebIdentity:
			roles++
		case awsprofile.KindSessionToken:
			gst = true
		}
	}
	if len(c.base.Links) == 0 {
		return 0, &cmdError{cmd: name, err: errors.New("the chain has no credentials")}
	}
	root := c.base.Links[0]
	rootIsRole := root.Kind == awsprofile.KindWebIdentity
	long, err := root.LongTermKeys(ctx)
	if err != nil {
		return 0, &cmdError{cmd: name, err: fmt.Errorf("the credentials of %s: %w", root.Kind, err)}
	}
	switch {
	case roles == 0 && gst:
		return 0, usagef(name, "the console takes no GetSessionToken session: leave out --session-duration and --mfa-serial, or give a role")
	case roles == 0 && long:
		return asFederatedUser, nil
	case roles == 0, roles > 1, gst, !long && !rootIsRole:
		return asChainedSession, nil
	}
	return asRoleSession, nil
}

// federatedSession exchanges the long-term keys at the root of c for a
// GetFederationToken session of the user, named after the user, that may
// do what the user may, lasting d (STS's default, 12 hours, for zero).
func federatedSession(ctx context.Context, c *chain, d time.Duration) (aws.Credentials, error) {
	client := sts.NewFromConfig(c.base.Config, func(o *sts.Options) { o.Credentials = c.base.Links[0].Provider })
	id, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return aws.Credentials{}, &cmdError{cmd: "login", err: fmt.Errorf("finding the user of the keys for GetFederationToken: %w", err)}
	}
	in := &sts.GetFederationTokenInput{Name: aws.String(federatedName(aws.ToString(id.Arn))), Policy: aws.String(federationPolicy)}
	if d != 0 {
		in.DurationSeconds = aws.Int32(int32(d / time.Second))
	}
	out, err := client.GetFederationToken(ctx, in)
	if err != nil {
		return aws.Credentials{}, &cmdError{cmd: "login", err: fmt.Errorf("GetFederationToken: %w", err)}
	}
	if out.Credentials == nil || aws.ToString(out.Credentials.AccessKeyId) == "" || aws.ToString(out.Credentials.SecretAccessKey) == "" || aws.ToString(out.Credentials.SessionToken) == "" {
		return aws.Credentials{}, &cmdError{cmd: "login", err: errors.New("GetFederationToken answered no credentials")}
	}
	return aws.Credentials{
		AccessKeyID:     aws.ToString(out.Credentials.AccessKeyId),
		SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
		SessionToken:    aws.ToString(out.Credentials.SessionToken),
		CanExpire:       true,
		Expires:         aws.ToTime(out.Credentials.Expiration),
	}, nil
}

// federatedName is the federated user's name for the user of ARN: the
// user's name, cut to the 32 characters GetFederationToken takes, of the
// characters it takes; "stschain" when none is left.
func federatedName(userARN string) string {
	name := ""
	if a, err := arn.Parse(userARN); err == nil {
		name = a.Resource[strings.LastIndex(a.Resource, "/")+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_+=,.@-", r)) {
			return r
		}
		return -1
	}, name)
	if len(name) < 2 {
		return "stschain"
	}
	return name[:min(len(name), 32)]
}

// signinToken asks the federation endpoint fedURL for a sign-in token of
// creds, with the console duration d unless it is zero.
func signinToken(ctx context.Context, fedURL string, creds aws.Credentials, d time.Duration) (string, error) {
	session, err := json.Marshal(map[string]string{
		"sessionId":    creds.AccessKeyID,
		"sessionKey":   creds.SecretAccessKey,
		"sessionToken": creds.SessionToken,
	})
	if err != nil {
		return "", err
	}
	q := url.Values{}
	q.Set("Action", "getSigninToken")
	if d != 0 {
		q.Set("SessionDuration", fmt.Sprint(int(d/time.Second)))
	}
	q.Set("Session", string(session))
	ctx, cancel := context.WithTimeout(ctx, signinTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fedURL+"?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		// The URL holds the session: say where, not what.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("getSigninToken at %s: %w", quote(fedURL), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSigninAnswer+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("getSigninToken at %s: reading the answer: %w", quote(fedURL), err)
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("getSigninToken at %s: %s: the federation endpoint refused the session (an expired session, one it does not take, or a console duration it does not allow)", quote(fedURL), resp.Status)
	case len(body) > maxSigninAnswer:
		return "", fmt.Errorf("getSigninToken at %s: the answer is over %d KiB", quote(fedURL), maxSigninAnswer>>10)
	}
	var out struct{ SigninToken string }
	if err := json.Unmarshal(body, &out); err != nil || out.SigninToken == "" {
		return "", fmt.Errorf("getSigninToken at %s: the answer holds no SigninToken", quote(fedURL))
	}
	return out.SigninToken, nil
}

// partitionOf returns the partition of region: aws, aws-cn or
// aws-us-gov; "" for one without a public console (aws-iso ...).
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-iso"), strings.HasPrefix(region, "eu-isoe-"):
		return ""
	}
	return "aws"
}

// signinHosts and consoleHosts are each partition's sign-in and console
// hosts.
var (
	signinHosts  = map[string]string{"aws": "signin.aws.amazon.com", "aws-cn": "signin.amazonaws.cn", "aws-us-gov": "signin.amazonaws-us-gov.com"}
	consoleHosts = map[string]string{"aws": "console.aws.amazon.com", "aws-cn": "console.amazonaws.cn", "aws-us-gov": "console.amazonaws-us-gov.com"}
)

// federationEndpoint is the federation endpoint: given, which must be
// https (or http on a loopback host: the request carries the session's
// keys), else the partition's of region.
func federationEndpoint(given, region string) (string, error) {
	if given == "" {
		host := signinHosts[partitionOf(region)]
		if host == "" {
			return "", fmt.Errorf("region %s has no public console: give --federation-url", quote(region))
		}
		return "https://" + host + "/federation", nil
	}
	u, err := url.Parse(given)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.User != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		return "", fmt.Errorf("--federation-url %s is not an https URL without a query (http is for a loopback host only: the request carries the session's keys)", quote(given))
	}
	return strings.TrimSuffix(given, "/"), nil
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// consoleURL is the console's home in region, of its partition.
func consoleURL(region string) string {
	host := consoleHosts[partitionOf(region)]
	if region == "" || host == "" {
		return "https://console.aws.amazon.com/"
	}
	return "https://" + region + "." + host + "/console/home?region=" + url.QueryEscape(region)
}

// openBrowser opens u in the user's browser, and does not wait for it.
func openBrowser(u string) error {
	var argv []string
	switch runtime.GOOS {
	case "darwin":
		argv = []string{"open", u}
	case "windows":
		argv = []string{"rundll32", "url.dll,FileProtocolHandler", u}
	default:
		argv = []string{"xdg-open", u}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = toolEnv(os.Environ())
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("opening the browser with %s: %w", quote(argv[0]), err)
	}
	return cmd.Process.Release()
}
