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
        // Parallel arrays by position rather than an array of optional structs: reading an
        // element then copies no struct (one generic copy and destroy per line otherwise).
        /// Position n: the n-th field line of the last head without its CRLF (empty: not kept).
        var lineBytes: [[UInt8]] = []
        var lineFields: [HTTPField] = []
        var lineRoles: [FieldRole] = []
        /// Each value's range within its line (whitespace trimmed).
        var lineValues: [Range<Int>] = []
        /// The last head's fields, when every one of its lines is kept.
        var fields: HTTPFields?

        /// Longer lines and later positions are parsed every time: they bound the memo's size.
        static let maxLineBytes = 512
        static let maxLines = 32

        var count: Int { lineBytes.count }

        /// The length of the line kept at `position` when `bytes` from `start` repeat it, CRLF
        /// after it (`repeatsLine`); nil otherwise.
        func repeatedLine(_ position: Int, _ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
            guard position < lineBytes.count, HTTPRequestParser.repeatsLine(lineBytes[position], bytes, at: start) else { return nil }
            return lineBytes[position].count
        }

        /// Keeps what the line at `position` parsed to (its bytes only if short enough).
        mutating func remember(
            _ position: Int, _ bytes: UnsafeBufferPointer<UInt8>, _ line: Range<Int>,
            _ field: HTTPField, _ role: FieldRole, _ value: Range<Int>
        ) {
            let kept = line.count <= Self.maxLineBytes ? Array(UnsafeBufferPointer(rebasing: bytes[line])) : []
            let valueInLine = value.lowerBound - line.lowerBound..<value.upperBound - line.lowerBound
            if position < lineBytes.count {
                lineBytes[position] = kept
                lineFields[position] = field
                lineRoles[position] = role
                lineValues[position] = valueInLine
            } else {
                lineBytes.append(kept)
                lineFields.append(field)
                lineRoles.append(role)
                lineValues.append(valueInLine)
            }
        }

        /// Forgets positions from `count` on.
        mutating func truncate(to count: Int) {
            guard lineBytes.count > count else { return }
            lineBytes.removeSubrange(count...)
            lineFields.removeSubrange(count...)
            lineRoles.removeSubrange(count...)
            lineValues.removeSubrange(count...)
        }
    }

    /// One complete field line of the head being read: taken from the memo when it repeats the
    /// line at the same position of the last head (`repeatsMemo`, found by `parseHeadLines`
    /// before it scanned for the line's end), parsed (and remembered) otherwise.
    mutating func acceptFieldLine(
        _ bytes: UnsafeBufferPointer<UInt8>, _ line: Range<Int>, repeatsMemo: Bool
    ) throws(HTTPParseError) {
        guard head.fieldCount < min(limits.maxHeaderCount, 65_000) else {
            // HTTPFields traps past UInt16.max fields; a configured limit above that is capped.
            throw .init(status: 431, reason: "too many header fields")
        }
        let position = head.fieldCount
        head.fieldCount += 1
        if repeatsMemo {
            let role = memo.lineRoles[position]
            if role == .extensionName { head.hasExtensionFields = true }
            if role.decidesFraming {
                let value = memo.lineValues[position]
                try applyFraming(role, bytes, line.lowerBound + value.lowerBound..<line.lowerBound + value.upperBound)
            }
            if head.repeatsMemo { return }
            head.fieldList.append(memo.lineFields[position])
            return
        }
        if head.repeatsMemo {
            // The first line that differs: the lines before it come from the memo.
            head.repeatsMemo = false
            head.fieldList.reserveCapacity(16)
            head.fieldList.append(contentsOf: memo.lineFields[..<position])
        }
        memo.fields = nil
        let (field, role, value) = try parseFieldLine(bytes, line)
        if role == .extensionName { head.hasExtensionFields = true }
        head.fieldList.append(field)
        if position < FieldLineMemo.maxLines { memo.remember(position, bytes, line, field, role, value) }
    }

    /// The head's fields, once its empty line was read; the memo then describes this head.
    mutating func finishFields() -> HTTPFields {
        if head.repeatsMemo && head.fieldCount == memo.count, let fields = memo.fields {
            return fields
        }
        if head.repeatsMemo {
            // Fewer lines than last time, or the last head's fields were not all kept.
            head.fieldList.append(contentsOf: memo.lineFields[..<head.fieldCount])
        }
        var fields = HTTPFields()
        fields.append(contentsOf: head.fieldList)
        memo.truncate(to: head.fieldCount)
        memo.fields = memo.count == head.fieldCount && !memo.lineBytes.contains { $0.isEmpty } ? fields : nil
        return fields
    }
}
