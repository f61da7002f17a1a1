// Package credserver serves an [aws.CredentialsProvider] to child processes
// over the container credentials protocol, the one ECS tasks use, which
// every AWS SDK and the AWS CLI read.
//
// [Start] listens on 127.0.0.1 and a free port; [Server.Env] gives the two
// environment variables a child needs:
//
//	srv, err := credserver.Start(provider)
//	if err != nil { ... }
//	defer srv.Close()
//	cmd := exec.Command("terraform", "apply")
//	cmd.Env = append(environ, srv.Env()...)
//
// The child's SDK then fetches credentials from the server whenever its own
// cached ones are due, and each request is answered with a fresh Retrieve of
// the provider, so a child outlives any one session for as long as the
// provider can renew them. No key is ever put in the child's environment.
//
// [Options] serve on another address (Addr: the bridge of local
// containers, say), or with the token in a file (TokenFile) that Env
// names in AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, the form of EKS Pod
// Identity.
//
// # Protocol
//
// A request is GET on the path of AWS_CONTAINER_CREDENTIALS_FULL_URI with
// the token as its Authorization header (the value of
// AWS_CONTAINER_AUTHORIZATION_TOKEN, or the content of the file
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE names), as aws-sdk-go-v2's
// endpointcreds provider and botocore's ContainerProvider send it. The
// answer is JSON:
//
//	{"AccessKeyId":"ASIA...","SecretAccessKey":"...","Token":"...","Expiration":"2030-01-02T15:04:05Z","AccountId":"123456789012"}
//
// Token is empty for credentials without a session token. Expiration is RFC
// 3339 in UTC; credentials that never expire are served with an Expiration
// one hour ahead, since botocore requires the field, so that clients come
// back for them. AccountId is present when the provider knows it.
//
// Failures are answered with an HTTP error status and the JSON error shape
// both SDKs read, {"code":"...","message":"..."}: 403 for a missing or wrong
// token and for a Host header that names neither the server's address nor
// a loopback address, 404 for another path, 405 for another method, and 500
// when Retrieve fails (the message is the provider's error on one line) or
// hands out credentials no AWS service issues (an access key ID that is not
// 16 to 128 upper-case letters and digits, a secret key or session token
// with a character outside the base64 alphabet: the message names the
// field, never its value), by the same rule stschain checks STS answers
// and cache entries with. Credentials are never written on an error path.
//
// Over plain http the AWS SDKs and the AWS CLI fetch only from a loopback
// address or one of the container hosts 169.254.170.2, 169.254.170.23 and
// fd00:ec2::23: an Addr the child's SDK is to reach must be one of those
// (on a container bridge, add one of the container hosts to the host's
// interface and serve there).
//
// # Security
//
// The server listens on 127.0.0.1 only, unless Addr says otherwise, and
// never on every interface. The token is 256 random bits, made by Start,
// and compared in constant time. The Host check refuses DNS rebinding: a
// web page whose name resolves to the server's address sends its own name
// as Host. Every answer carries Cache-Control: no-store. The server logs
// nothing, and neither [Server.String] nor any fmt verb of a *Server shows
// the token. A token file is created new (never through an existing name
// or a symbolic link), readable by its owner only.
//
// Another local user cannot starve the child. The token is checked before
// anything else: a request without it is answered at once and its
// connection closed. A connection has 5 seconds to send its request line
// and headers (at most 8 KiB), and a kept-alive one may wait 30 seconds
// for its next request. At most 128 connections that have not shown the
// token are kept open: a new one closes the oldest, so idle connections
// cannot crowd out a client, which sends its request as soon as it
// connects; at most 512 connections are open in all.
//
// Any local process that learns the token (from the child's environment)
// can fetch the credentials while the server runs, exactly as it could read
// keys from that environment; the server's lifetime bounds that exposure.
// A child that outlives the server must not find someone else's server on
// the freed port, which any local user may bind: [ServeStopped] keeps the
// port on a copy of the listening socket and answers every request with an
// error, so that such a child fails closed; stschain exec --server hands
// that copy to a process that holds it until no process that may use the
// URI is left.
package credserver
