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
// # Protocol
//
// A request is GET on the path of AWS_CONTAINER_CREDENTIALS_FULL_URI with
// the value of AWS_CONTAINER_AUTHORIZATION_TOKEN as its Authorization header,
// as aws-sdk-go-v2's endpointcreds provider and botocore's ContainerProvider
// send it. The answer is JSON:
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
// token and for a Host header that does not name a loopback address, 404
// for another path, 405 for another method, and 500 when Retrieve fails
// (the message is the provider's error on one line; credentials are never
// written on that path).
//
// # Security
//
// The server listens on 127.0.0.1 only. The token is 256 random bits, made
// by Start, and compared in constant time. The Host check refuses DNS
// rebinding: a web page whose name resolves to 127.0.0.1 sends its own name
// as Host. Every answer carries Cache-Control: no-store. The server logs
// nothing, and neither [Server.String] nor any fmt verb of a *Server shows
// the token. Any local process that learns the token (from the child's
// environment) can fetch the credentials while the server runs, exactly as
// it could read keys from that environment; the server's lifetime bounds
// that exposure.
package credserver
