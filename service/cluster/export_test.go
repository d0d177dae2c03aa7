package cluster

// Assembling counts the messages n has parts of, for tests to see that
// transfers leave nothing behind.
func Assembling(n *Node) int { return n.asm.pending() }
