import Glibc
import HTTPTypes

extension HTTPRequestParser {
    /// The field lines of this connection's earlier heads, by position, and what each parsed to.
    /// A keep-alive client sends the same field lines request after request, in the same order:
    /// a line byte-equal to the one at the same position last time is not parsed again (its
    /// field and framing role are known; the framing fields' values are still applied), and a
    /// head whose lines all repeat takes the whole `HTTPFields` of the last one (no allocation).
    /// Only lines that were accepted are kept, so a repeat needs no new validation: the same
    /// bytes always parse to the same field. Owned by one parser, like the rest of its state.
    struct FieldLineMemo: Sendable {
        struct Line: Sendable {
            /// The line without its CRLF.
            var bytes: [UInt8]
            var field: HTTPField
            var role: FieldRole
            /// The value's range within the line (whitespace trimmed).
            var value: Range<Int>
        }

        /// Position n holds the n-th field line of the last head (nil: too long to keep).
        var lines: [Line?] = []
        /// The last head's fields, when every one of its lines is in `lines`.
        var fields: HTTPFields?

        /// Longer lines and later positions are parsed every time: they bound the memo's size.
        static let maxLineBytes = 512
        static let maxLines = 32

        /// Whether the line at `position` of the head being read equals the one kept there.
        func matches(_ position: Int, _ bytes: UnsafeBufferPointer<UInt8>, _ line: Range<Int>) -> Bool {
            guard position < lines.count, let kept = lines[position], kept.bytes.count == line.count else { return false }
            return kept.bytes.withUnsafeBytes { memcmp($0.baseAddress!, bytes.baseAddress! + line.lowerBound, line.count) == 0 }
        }
    }

    /// One complete field line of the head being read: taken from the memo when it repeats the
    /// line at the same position of the last head, parsed (and remembered) otherwise.
    mutating func acceptFieldLine(_ bytes: UnsafeBufferPointer<UInt8>, _ line: Range<Int>) throws(HTTPParseError) {
        guard head.fieldCount < min(limits.maxHeaderCount, 65_000) else {
            // HTTPFields traps past UInt16.max fields; a configured limit above that is capped.
            throw .init(status: 431, reason: "too many header fields")
        }
        let position = head.fieldCount
        head.fieldCount += 1
        if memo.matches(position, bytes, line), let kept = memo.lines[position] {
            if kept.role != .other {
                let start = line.lowerBound
                try applyFraming(kept.role, bytes, start + kept.value.lowerBound..<start + kept.value.upperBound)
            }
            if head.repeatsMemo { return }
            head.fieldList.append(kept.field)
            return
        }
        if head.repeatsMemo {
            // The first line that differs: the lines before it come from the memo.
            head.repeatsMemo = false
            head.fieldList.reserveCapacity(16)
            for index in 0..<position { head.fieldList.append(memo.lines[index]!.field) }
        }
        memo.fields = nil
        let (field, role, value) = try parseFieldLine(bytes, line)
        head.fieldList.append(field)
        guard position < FieldLineMemo.maxLines else { return }
        let kept = line.count <= FieldLineMemo.maxLineBytes
            ? FieldLineMemo.Line(
                bytes: Array(UnsafeBufferPointer(rebasing: bytes[line])), field: field, role: role,
                value: value.lowerBound - line.lowerBound..<value.upperBound - line.lowerBound)
            : nil
        if position < memo.lines.count { memo.lines[position] = kept } else { memo.lines.append(kept) }
    }

    /// The head's fields, once its empty line was read; the memo then describes this head.
    mutating func finishFields() -> HTTPFields {
        if head.repeatsMemo && head.fieldCount == memo.lines.count, let fields = memo.fields {
            return fields
        }
        if head.repeatsMemo {
            // Fewer lines than last time, or the last head's fields were not all kept.
            head.fieldList.reserveCapacity(head.fieldCount)
            for index in 0..<head.fieldCount { head.fieldList.append(memo.lines[index]!.field) }
        }
        var fields = HTTPFields()
        fields.append(contentsOf: head.fieldList)
        if memo.lines.count > head.fieldCount { memo.lines.removeSubrange(head.fieldCount...) }
        memo.fields = memo.lines.count == head.fieldCount && !memo.lines.contains { $0 == nil } ? fields : nil
        return fields
    }
}
