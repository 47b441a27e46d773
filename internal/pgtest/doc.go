// Package pgtest starts throwaway PostgreSQL clusters from the server binaries installed on the
// machine, for the integration tests of every package and for the demo program.
//
// A cluster lives in a fresh directory under os.TempDir: initdb with fsync off, a free port on
// 127.0.0.1 with scram-sha-256 password authentication, trust over a private Unix socket, and
// the server log inside the data directory (its tail is part of every start error). When the
// process runs as root, the server runs as the OS user "postgres", which PostgreSQL requires.
//
// Tests use one cluster per package, started by Main from TestMain and fetched with Get, and a
// fresh database per test from CreateDB. Tests that stop or freeze the server take their own
// cluster from StartOwn so they cannot disturb the others. Tests that need another major
// version than the installed one take a cluster from StartMajor, which runs the server builds
// that scripts/fetch-postgres-majors.sh unpacks under MajorsDir. Start and the Cluster methods
// do not depend on package testing, so non-test programs can use them too.
//
// # Missing binaries and CI
//
// Without PostgreSQL server binaries (see Options.BinDir for where they are looked for), Start
// returns an error wrapping ErrNoPostgres. On a developer machine the tests that need a server
// are then skipped with that reason. When the environment variable CI is "true", a missing
// server is a failure instead: Main exits with status 1 and Get, StartOwn and StartMajor call
// t.Fatal, so a CI run can never pass by silently skipping its integration tests.
package pgtest
