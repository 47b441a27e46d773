//go:build !linux

package localstore

// renameNoReplace renames tmp to final unless final exists, in which case it returns an error
// wrapping fs.ErrExist. Without renameat2 a hard link is the portable no-replace rename.
func renameNoReplace(tmp, final string) error { return linkNoReplace(tmp, final) }
