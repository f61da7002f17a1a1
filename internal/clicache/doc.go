// Package clicache reads and writes the AWS CLI's credential cache, the
// directory of JSON files that botocore's JSONFileCache keeps in
// ~/.aws/cli/cache:
//
//   - the format of its files: [Decode] and [Encode];
//   - the keys the CLI files AssumeRole sessions under, [AssumeRoleKey], and
//     the key of GetSessionToken sessions, which the CLI does not cache,
//     [SessionTokenKey];
//   - a [Dir] that reads, writes and locks those files without trusting
//     anything another local user could have put there;
//   - [AccountOf] and [CheckAssumedRoleUser], which tell whether a cached
//     session belongs to the role it is filed under.
//
// Package stschain's FileCache is the public face of all this. Errors here
// carry no package prefix: stschain wraps them, so that its prefix appears
// once. No error quotes a credential.
package clicache
