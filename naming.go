package pgsnap

import (
	"errors"
	"strings"
	"time"
)

// nameTimeLayout is the UTC time in a snapshot's name: app-20261124T030000Z.
const nameTimeLayout = "20060102T150405Z"

const (
	dataSuffix     = ".dump"
	manifestSuffix = ".json"
	maxTargetLen   = 63
	targetWant     = "1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"
)

// snapshotName is the target name plus the snapshot's UTC time to the second.
func snapshotName(target string, t time.Time) string {
	return target + "-" + t.UTC().Format(nameTimeLayout)
}

// parseSnapshotName splits a snapshot name into its target and time.
func parseSnapshotName(name string) (target string, t time.Time, err error) {
	i := strings.LastIndexByte(name, '-')
	if i < 1 {
		return "", time.Time{}, errors.New("not a snapshot name (want <target>-YYYYMMDDTHHMMSSZ)")
	}
	target = name[:i]
	if err := validTarget(target); err != nil {
		return "", time.Time{}, err
	}
	t, err = time.Parse(nameTimeLayout, name[i+1:])
	if err != nil {
		return "", time.Time{}, errors.New("not a snapshot name (want <target>-YYYYMMDDTHHMMSSZ)")
	}
	return target, t, nil
}

func manifestKey(name string) string { return name + manifestSuffix }

func isTargetByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case c == '.' || c == '_' || c == '-':
		return !first
	}
	return false
}

func validTarget(s string) error {
	if s == "" || len(s) > maxTargetLen {
		return errors.New("must be " + targetWant)
	}
	for i := 0; i < len(s); i++ {
		if !isTargetByte(s[i], i == 0) {
			return errors.New("must be " + targetWant)
		}
	}
	return nil
}

// targetFromDatabase makes a valid target name from any database name: bytes outside the
// allowed set become '_', and a name that does not start with a letter or digit gets "db".
func targetFromDatabase(db string) string {
	b := []byte(db)
	for i := range b {
		if !isTargetByte(b[i], false) {
			b[i] = '_'
		}
	}
	s := string(b)
	if !isTargetByte(s[0], true) {
		s = "db" + s
	}
	if len(s) > maxTargetLen {
		s = s[:maxTargetLen]
	}
	return s
}
