// Package deploy holds the tests of Custodian's deployment artefacts: the
// top-level compose.yaml and Dockerfile, the example nats-server
// configuration under deploy/, secured NATS connections and a three-server
// JetStream cluster with the real binaries. The package itself has no code
// used at run time; the health-check probe of the images is the command in
// ./probe.
package deploy
