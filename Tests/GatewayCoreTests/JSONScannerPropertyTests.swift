import Foundation
import Testing

@testable import GatewayCore

/// Differential tests: random documents (valid ones serialized from random value trees, and
/// corrupted copies of them) must be accepted by `JSONScanner.scanRequest` exactly when Foundation's
/// `JSONSerialization` parses them into a dictionary. Documents that hit a known difference between
/// Foundation on Linux and RFC 8259 are left out of the comparison (see `foundationDivergesFromRFC`)
/// and checked against the RFC in `JSONScannerRFCTests`. Fixed seeds: every run sees the same documents.
@Suite struct JSONScannerPropertyTests {
    @Test func validDocumentsAgreeWithFoundationAndTheirTree() throws {
        var random = JSONTestRandom(seed: 0x5EED_0001)
        var compared = 0
        for _ in 0..<3000 {
            let tree = RandomJSONDocuments.document(&random)
            let bytes = RandomJSONDocuments.serialize(tree, &random)
            guard !RandomJSONDocuments.foundationDivergesFromRFC(bytes) else { continue }
            compared += 1
            let foundation = foundationObject(bytes)
            guard case .object = tree else {
                #expect(foundation != nil, "Foundation rejected generated \(show(bytes))")
                #expect(throws: JSONSyntaxError.self) { try JSONScanner.scanRequest(bytes) }
                continue
            }
            let fields = try JSONScanner.scanRequest(bytes)
            #expect(fields == RandomJSONDocuments.expectedFields(tree, rangeFrom: fields), "\(show(bytes))")
            let dictionary = try #require(foundation as? [String: Any], "Foundation rejected \(show(bytes))")
            #expect(sameScalars(fields.model, dictionary["model"] as? String), "\(show(bytes))")
            #expect(sameScalars(fields.user, dictionary["user"] as? String), "\(show(bytes))")
            if let range = fields.modelValueRange {
                try checkModelRewrite(bytes, range: range, fields: fields, original: dictionary)
            }
        }
        #expect(compared > 2900)
    }

    @Test func corruptedDocumentsAgreeWithFoundation() {
        var random = JSONTestRandom(seed: 0x5EED_0002)
        var compared = 0
        var skipped = 0
        var rejected = 0
        for _ in 0..<2500 {
            let valid = RandomJSONDocuments.serialize(RandomJSONDocuments.document(&random), &random)
            for _ in 0..<4 {
                let bytes = RandomJSONDocuments.corrupt(valid, &random)
                guard !RandomJSONDocuments.foundationDivergesFromRFC(bytes) else {
                    skipped += 1
                    continue
                }
                compared += 1
                let foundationAccepts = foundationObject(bytes) is [String: Any]
                let scannerAccepts = (try? JSONScanner.scanRequest(bytes)) != nil
                if !foundationAccepts { rejected += 1 }
                #expect(scannerAccepts == foundationAccepts, "Foundation \(foundationAccepts): \(show(bytes))")
            }
        }
        // The comparison must stay meaningful: few exclusions, and both outcomes well represented.
        #expect(skipped * 20 < compared)
        #expect(rejected > compared / 4 && rejected < compared * 9 / 10, "\(compared) compared, \(rejected) rejected")
    }

    @Test func everyPrefixOfAValidDocumentIsRejectedWithoutReadingPastTheEnd() throws {
        var random = JSONTestRandom(seed: 0x5EED_0003)
        for _ in 0..<40 {
            var tree = RandomJSONDocuments.document(&random)
            if case .object = tree {} else { tree = .object([("k", tree)]) }
            let bytes = RandomJSONDocuments.serialize(tree, &random)
            _ = try JSONScanner.scanRequest(bytes)
            for length in 0..<bytes.count {
                // A fresh array of exactly `length` bytes, so an over-read would leave the allocation.
                let prefix = Array(bytes[..<length])
                let accepted = (try? JSONScanner.scanRequest(prefix)) != nil
                // Only trailing whitespace may be cut off from a complete document.
                let onlyWhitespaceCut = bytes[length...].allSatisfy { [0x20, 0x09, 0x0A, 0x0D].contains($0) }
                #expect(accepted == onlyWhitespaceCut, "prefix \(length) of \(show(bytes))")
            }
        }
    }

    // MARK: - Helpers

    private func foundationObject(_ bytes: [UInt8]) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    }

    /// String equality by scalars: Swift's `==` would call canonically equivalent strings equal.
    private func sameScalars(_ a: String?, _ b: String?) -> Bool {
        a.map { Array($0.unicodeScalars) } == b.map { Array($0.unicodeScalars) }
    }

    /// Rewriting the model keeps every other byte and every other member.
    private func checkModelRewrite(
        _ bytes: [UInt8], range: Range<Int>, fields: RequestFields, original: [String: Any]
    ) throws {
        let newModel = "rewritten \"model\" \u{1}é😀"
        let rewritten = JSONScanner.replacingModel(in: bytes, range: range, with: newModel)
        #expect(Array(rewritten[..<range.lowerBound]) == Array(bytes[..<range.lowerBound]))
        let suffixCount = bytes.count - range.upperBound
        #expect(Array(rewritten.suffix(suffixCount)) == Array(bytes.suffix(suffixCount)))
        var expected = fields
        expected.model = newModel
        let scanned = try JSONScanner.scanRequest(rewritten)
        expected.modelValueRange = scanned.modelValueRange
        #expect(scanned == expected)
        let reparsed = try #require(foundationObject(rewritten) as? [String: Any])
        #expect(sameScalars(reparsed["model"] as? String, newModel))
        var withoutModel = original
        var reparsedWithoutModel = reparsed
        withoutModel["model"] = nil
        reparsedWithoutModel["model"] = nil
        #expect(sameFoundationValue(withoutModel, reparsedWithoutModel))
    }

    /// Deep equality of Foundation parse results (bridged `isEqual` is unreliable on Linux for
    /// dictionaries holding booleans).
    private func sameFoundationValue(_ a: Any, _ b: Any) -> Bool {
        switch (a, b) {
        case (let a as [String: Any], let b as [String: Any]):
            return a.count == b.count && a.allSatisfy { key, value in b[key].map { sameFoundationValue(value, $0) } ?? false }
        case (let a as [Any], let b as [Any]):
            return a.count == b.count && zip(a, b).allSatisfy { sameFoundationValue($0, $1) }
        case (let a as String, let b as String):
            return sameScalars(a, b)
        case (let a as NSNumber, let b as NSNumber):
            return a == b
        case (is NSNull, is NSNull):
            return true
        default:
            return false
        }
    }

    private func show(_ bytes: [UInt8]) -> String {
        "\(bytes.count) bytes: " + String(decoding: bytes.prefix(400), as: UTF8.self).debugDescription
            + " hex: " + bytes.prefix(200).map { String($0, radix: 16) }.joined(separator: " ")
    }
}
