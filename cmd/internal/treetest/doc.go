// Package treetest holds the tree's own rules as tests, so that the layout
// the documentation describes is the one the code has: which packages may
// import which (deps_test.go, in the spirit of tailscale's tstest/deptest).
// It has no code of its own.
package treetest
