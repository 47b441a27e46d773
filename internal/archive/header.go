package archive

// Header is an archive's header.
type Header struct {
	Version     string // archive format version, e.g. "1.14"
	Compression string // "none", "gzip", "lz4", "zstd" (level for old versions: "gzip" when level != 0)
	Database    string
	// ServerVersion and DumpVersion are the versions of the server dumped and of pg_dump, as
	// stored: "15.18 (Debian 15.18-1.pgdg12+1)".
	ServerVersion, DumpVersion string
}

// magic starts every custom-format archive.
const magic = "PGDMP"

// formatCustom is archCustom in pg_backup.h. The directory format's toc.dat starts like a
// custom archive but has format 5 and another TOC layout.
const formatCustom = 1

// creationInts is the number of integers holding the creation time (struct tm fields).
const creationInts = 7

// algorithm is how data blocks are compressed (pg_compress_algorithm in compression.h).
type algorithm uint8

const (
	algoNone algorithm = iota
	algoGzip
	algoLZ4
	algoZstd
)

func (a algorithm) String() string {
	return [...]string{"none", "gzip", "lz4", "zstd"}[a]
}

// headerStep takes the header value just read.
func (p *parser) headerStep() error {
	switch p.st {
	case stMagic:
		if string(p.val) != magic {
			return p.notArchive()
		}
		p.next(stVMaj)
	case stVMaj:
		p.vmaj = p.val[0]
		p.next(stVMin)
	case stVMin:
		p.vmin = p.val[0]
		// Checked before the revision byte, which versions before 1.1 lack.
		if v := (int(p.vmaj)*256 + int(p.vmin)) * 256; v < vers1_12 || v > versMax {
			return p.unsupported("archive version %d.%d (pg_dump 9.0 to 17 write 1.12 to 1.16)", p.vmaj, p.vmin)
		}
		p.next(stVRev)
	case stVRev:
		p.version = (int(p.vmaj)*256+int(p.vmin))*256 + int(p.val[0])
		p.hdr.Version = formatVersion(p.version)
		p.next(stIntSize)
	case stIntSize:
		// pg_dump writes sizeof(int); larger integers than 8 bytes cannot be held here.
		if n := int(p.val[0]); n < 1 || n > 8 {
			return p.unsupported("integer size %d in archive header", n)
		}
		p.intSize = int(p.val[0])
		p.next(stOffSize)
	case stOffSize:
		if n := int(p.val[0]); n < 1 || n > 16 {
			return p.unsupported("file offset size %d in archive header", n)
		}
		p.offSize = int(p.val[0])
		p.next(stFormat)
	case stFormat:
		if f := p.val[0]; f != formatCustom {
			return p.unsupported("archive format %d, want custom (%d)", f, formatCustom)
		}
		p.st = stCompression
		if p.version >= vers1_15 {
			p.expectBytes(1)
		} else {
			p.expectInt()
		}
	case stCompression:
		if p.version >= vers1_15 {
			if a := p.val[0]; a > byte(algoZstd) {
				return p.unsupported("compression algorithm %d in archive header", a)
			}
			p.algo = algorithm(p.val[0])
		} else if p.ival != 0 {
			// Before 1.15 the header holds a zlib level: 0 is none, -1 the default.
			p.algo = algoGzip
		}
		p.hdr.Compression = p.algo.String()
		p.st = stCreated
		p.expectInt()
	case stCreated:
		p.created++
		if p.created < creationInts {
			p.expectInt()
			return nil
		}
		p.st = stDBName
		p.expectStr(true)
	case stDBName:
		p.hdr.Database = string(p.val)
		p.st = stServerVersion
		p.expectStr(true)
	case stServerVersion:
		p.hdr.ServerVersion = string(p.val)
		p.st = stDumpVersion
		p.expectStr(true)
	case stDumpVersion:
		p.hdr.DumpVersion = string(p.val)
		p.st = stTOCCount
		p.expectInt()
	}
	return nil
}

// next moves to header state st, whose value is one byte.
func (p *parser) next(st state) {
	p.st = st
	p.expectBytes(1)
}
