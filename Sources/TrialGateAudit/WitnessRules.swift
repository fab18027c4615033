import Foundation
import TrialGateCore

/// What a witness decides about one `add-checkpoint` request (C2SP tlog-witness): pure, so the service around it only
/// parses HTTP, holds the state, persists it atomically with the decision and signs.
public enum WitnessRules {
    /// A log the witness is configured to witness: its origin and the keys its checkpoints are signed with.
    public struct Log: Sendable, Equatable {
        public let origin: String
        public let keys: [NoteVerifierKey]
        public init(origin: String, keys: [NoteVerifierKey]) { (self.origin, self.keys) = (origin, keys) }
    }

    /// The latest checkpoint a witness cosigned for a log.
    public struct Cosigned: Sendable, Equatable, Codable {
        public let size: Int64
        public let root: [UInt8]
        public init(size: Int64, root: [UInt8]) { (self.size, self.root) = (size, root) }
    }

    /// An `add-checkpoint` request body: the old size, the consistency proof, and the signed checkpoint.
    public struct Request: Sendable, Equatable {
        public let oldSize: Int64
        public let proof: [[UInt8]]
        public let note: String
    }

    /// The answer, by HTTP status.
    public enum Outcome: Sendable, Equatable {
        /// 200: cosign `checkpoint` (its note text `text`) and record it as the latest for its origin.
        case cosign(checkpoint: Checkpoint, text: String)
        /// 400: the body is not a request, or the old size is above the checkpoint's.
        case badRequest(String)
        /// 403: no signature by a key the witness trusts for the origin verifies.
        case forbidden(String)
        /// 404: the witness does not witness this origin.
        case unknownOrigin(String)
        /// 409: the old size is not the latest cosigned size (the body: that size), or the same size with another root.
        case conflict(latestSize: Int64)
        /// 422: the consistency proof does not verify.
        case inconsistent(String)

        /// The HTTP status code.
        public var status: Int {
            switch self {
            case .cosign: 200
            case .badRequest: 400
            case .forbidden: 403
            case .unknownOrigin: 404
            case .conflict: 409
            case .inconsistent: 422
            }
        }
    }

    /// The most consistency proof lines a request may carry.
    public static let maximumProofLines = 63

    /// Parses a request body: `old <size>`, at most 63 base64 hash lines, an empty line, then the checkpoint note.
    public static func parse(_ body: String) throws -> Request {
        guard let blank = body.range(of: "\n\n") else { throw TrialGateError(.badRequest, "an add-checkpoint body has an empty line before the checkpoint") }
        let head = body[..<blank.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
        guard let first = head.first, first.hasPrefix("old "), let old = Int64(first.dropFirst(4)), old >= 0, String(old) == first.dropFirst(4) else {
            throw TrialGateError(.badRequest, "the first line is `old <size>` in decimal without leading zeros")
        }
        let proofLines = head.dropFirst()
        guard proofLines.count <= maximumProofLines else { throw TrialGateError(.badRequest, "more than \(maximumProofLines) consistency proof lines") }
        let proof = try proofLines.map { line -> [UInt8] in
            guard let h = Data(base64Encoded: String(line)).map(Array.init), h.count == 32 else {
                throw TrialGateError(.badRequest, "a consistency proof line is one base64 SHA-256 hash: \(line.prefix(60))")
            }
            return h
        }
        return Request(oldSize: old, proof: proof, note: String(body[blank.upperBound...]))
    }

    /// Decides a request against the logs witnessed and the latest checkpoint cosigned for each origin, in the order
    /// the spec gives its checks.
    public static func decide(_ body: String, logs: [Log], latest: [String: Cosigned]) -> Outcome {
        let request: Request
        let text: String
        let checkpoint: Checkpoint
        do {
            request = try parse(body)
            text = try SignedNote.parse(request.note).text
            checkpoint = try Checkpoint(text: text)
        } catch {
            return .badRequest(TrialGateError(error).message)
        }
        guard let log = logs.first(where: { $0.origin == checkpoint.origin }) else {
            return .unknownOrigin("this witness does not witness \(checkpoint.origin)")
        }
        // A trusted key's bad signature is no verified signature: 403 like none at all.
        guard (try? SignedNote.open(request.note, keys: log.keys)) != nil else {
            return .forbidden("no signature by a key trusted for \(checkpoint.origin) verifies")
        }
        guard request.oldSize <= checkpoint.size else {
            return .badRequest("old size \(request.oldSize) is above the checkpoint's size \(checkpoint.size)")
        }
        let held = latest[checkpoint.origin]
        guard request.oldSize == (held?.size ?? 0) else { return .conflict(latestSize: held?.size ?? 0) }
        if let held, held.size == checkpoint.size {
            return held.root == checkpoint.root ? .cosign(checkpoint: checkpoint, text: text) : .conflict(latestSize: held.size)
        }
        if let held, held.size > 0 {
            do {
                try Merkle.verifyConsistency(size1: held.size, size2: checkpoint.size, root1: held.root, root2: checkpoint.root, proof: request.proof)
            } catch {
                return .inconsistent("the consistency proof from \(held.size) to \(checkpoint.size) does not verify: \(error)")
            }
        } else if !request.proof.isEmpty {
            return .inconsistent("a proof from size 0 must be empty")
        }
        return .cosign(checkpoint: checkpoint, text: text)
    }
}
