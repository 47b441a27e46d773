// Package archive reads pg_dump's custom archive format (pg_dump -Fc) as a stream: ReadTOC
// returns an archive's header and table of contents, and Counter counts every table's rows as
// the archive passes through it on its way to storage, so row counts cost no extra scan of the
// server.
//
// In the same pass the Counter records where things are. Counter.Offsets returns the data
// offsets pg_dump could not write into the TOC of an archive it wrote to a pipe; Offsets.Patch
// writes them into a file of that archive, which pg_restore -j then seeks in instead of reading
// it through in every worker. Counter.Layout returns every table's data block (its byte range,
// columns and row count), which OpenTableBlock reads from; OpenTable and CopyTable find and
// read one table's rows from the start of an archive stream, and ListTables lists its tables.
//
// # Format
//
// A custom archive is a header, a table of contents (TOC) and data blocks, written by pg_dump's
// pg_backup_archiver.c and pg_backup_custom.c:
//
//   - Integers are a sign byte (non-zero means negative) followed by intSize bytes of the
//     magnitude, least significant first. Strings are an integer length and that many bytes;
//     length -1 is NULL.
//   - The header: "PGDMP", the format version (major, minor, revision bytes), intSize and
//     offSize bytes, the format byte (1 = custom), the compression (an integer level before
//     version 1.15, an algorithm byte since), the creation time (seven integers), and the
//     database name, server version and pg_dump version strings.
//   - The TOC: an entry count, then per entry its dump ID, whether it has data, catalog IDs,
//     tag, description, section, definition, drop statement, COPY statement, namespace,
//     tablespace, table access method (1.14), relkind (1.16, an integer), owner, a "with oids"
//     flag, its dependencies (strings ending with a NULL one) and the custom format's data
//     offset: a flag byte (1 position not set, 2 set, 3 no data) and offSize bytes, least
//     significant first, of the position of the entry's data block (its block type byte).
//     pg_dump writes the TOC before the data, and rewrites it with the positions only when it
//     can seek back in its output.
//   - Data blocks, in TOC order: a block type byte and the entry's dump ID. A table's block
//     (type 1) is chunks, each an integer length and that many bytes, ending with a zero
//     length. A large-object block (type 3) is, per large object, its OID and chunks like a
//     table's, ending with OID 0. With compression, each table's chunks together carry one
//     compressed stream.
//
// Uncompressed table data is the text of COPY ... TO STDOUT: one line per row, with newlines
// inside values escaped as \n, followed by the end-of-data line "\." and two empty lines that
// pg_dump appends, so a block's rows are its newline count less three. Versions 1.12 to 1.16 are
// read (pg_dump 9.0 to 17; pgsnap needs 12 or later).
package archive
