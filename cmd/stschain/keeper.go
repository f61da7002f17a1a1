package main

// The port keeper.
//
// A process that exec --server's command leaves behind (a background job,
// a daemon it started) keeps AWS_CONTAINER_CREDENTIALS_FULL_URI in its
// environment after stschain has exited. Once the server's port is free,
// any local user may bind it and answer that process's next fetch with
// credentials of their own, which its SDK would take. So the port is never
// freed while such a process may remain: exec --server hands a copy of the
// listening socket to a keeper, a small process of its own (this program,
// run as "stschain __keep-port", in a session of its own, with no
// terminal, no credentials and no secret), before it starts the command.
// The keeper waits until stschain has exited or stopped serving, however
// it ended (even by SIGKILL); it then removes the token file of
// --server-token-file if stschain could not, answers every request on the
// port with 403 ServerStopped, so that a process left behind fails closed,
// and holds the port until no process that may use the URI is left (see
// holdersLeft), when it exits and frees the port. When none is left as
// stschain exits, which is the common case, the keeper exits at once.

// keeperArg is the argument that runs stschain as a port keeper, the only
// one: main checks for it before anything else.
const keeperArg = "__keep-port"
