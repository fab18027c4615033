extension LogState {
    /// Checks a `user.*` event against the accounts so far.
    static func checkUserEvent(_ event: Event, against state: LogState) throws {
        func bad(_ why: String) -> TrialGateError { TrialGateError(.invalidField, "event \(event.seq) (\(event.type.rawValue)): \(why)") }
        guard event.candidate == nil, state.trial != nil else {
            throw TrialGateError(.invalidEvent, "event \(event.seq) (\(event.type.rawValue)): an account change needs an initialised trial and no candidate")
        }
        var r = try ObjectReader(event.payload, context: event.type.rawValue)
        let name = try r.string("name")
        let existing = state.users[name].flatMap { $0.status == .removed ? nil : $0 }
        switch event.type {
        case .userAdded:
            try checkUserAdded(event, name: name, existing: existing, &r, state: state, bad)
        case .userDisabled, .userEnabled, .userRemoved:
            let reason = try r.string("reason")
            if reason.allSatisfy(\.isWhitespace) { throw bad("a reason is required") }
            if event.schemaVersion >= 3, let why = SignedText.problem(reason, maxLength: 1000, multiline: false) { throw bad("reason must be \(why)") }
            guard let account = existing else { throw bad("there is no account named \(name)") }
            if event.type == .userDisabled, account.status != .active { throw bad("\(name) is already disabled") }
            if event.type == .userEnabled, account.status != .disabled { throw bad("\(name) is not disabled") }
        case .userTokenRotated:
            try checkTokenDigest(try r.string("token_sha256"), in: state, bad)
            guard existing != nil else { throw bad("there is no account named \(name)") }
        case .userSignerRotated:
            guard event.schemaVersion >= 3 else { throw bad("user.signer_rotated does not exist in event schema \(event.schemaVersion)") }
            guard let account = existing else { throw bad("there is no account named \(name)") }
            guard account.role == .investigator else { throw bad("\(name) is a \(account.role.rawValue); only investigators sign") }
            let publicKey = try r.string("public_key"), keyID = try r.string("key_id"), signing = try r.string("signing_sha256")
            guard Self.isRawKeyBase64(publicKey) else { throw bad("public_key must be base64 of a raw 32-byte Ed25519 public key") }
            guard keyID.utf8.count == 16, keyID.utf8.allSatisfy(Self.isLowerHex) else { throw bad("key_id must be 16 lowercase hex digits naming public_key") }
            if state.signerKeys.contains(publicKey) { throw bad("public_key was already registered in this log; make a new key") }
            // A digest the log has held (the account's own token included) is refused.
            try checkTokenDigest(signing, in: state, bad, field: "signing_sha256")
        default:
            throw TrialGateError(.invalidEvent, "event \(event.seq): not an account event")
        }
        try r.finish()
    }

    /// Checks a `user.added` event: a name never used before, a role, the sites the role is held to, a new token
    /// digest, and for an investigator the printed name, key and signing-code digest.
    private static func checkUserAdded(_ event: Event, name: String, existing: UserAccount?, _ r: inout ObjectReader, state: LogState,
                                       _ bad: (String) -> TrialGateError) throws {
        // Names are written as actors: ':' is kept for the `os:` accounts of the command line and refused here.
        try RecordSchema.validateIdentifier(name, what: "user name")
        // A name identifies one person for ever: a removed account's name is not given to anyone else
        // (21 CFR 11.100(a): an electronic signature is never reused by or reassigned to anyone else).
        if let old = state.users[name], old.status == .removed {
            throw bad("the name \(name) belonged to an account removed in event \(old.changedSeq); names are never reused")
        }
        let roleText = try r.string("role")
        guard let role = Role(rawValue: roleText) else {
            throw bad("role must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(roleText)\"")
        }
        guard let siteValues = try r.value("sites").arrayValue else { throw bad("sites must be a list of site ids") }
        var sites: [String] = []
        for v in siteValues {
            guard let site = v.stringValue else { throw bad("sites must be a list of site ids, got \(CanonicalJSON.string(v))") }
            try RecordSchema.validateIdentifier(site, what: "site")
            sites.append(site)
        }
        if role.isSiteScoped, sites.isEmpty { throw bad("a \(role.rawValue) needs at least one site") }
        if !role.isSiteScoped, !sites.isEmpty { throw bad("only coordinators, investigators and monitors are held to sites; a \(role.rawValue) has none") }
        let token = try r.string("token_sha256")
        try checkTokenDigest(token, in: state, bad)
        let printed = try checkPrintedName(&r, state: state, bad)
        try checkSignerFields(&r, role: role, printed: printed, token: token, event: event, state: state, bad)
        if let expiry = try r.optionalString("expires_at"), UTCTimestamp(expiry) == nil {
            throw bad("expires_at must be a UTC time like 2026-12-31T00:00:00.000Z, got \"\(expiry)\"")
        }
        if existing != nil { throw bad("an account named \(name) already exists") }
    }

    /// The optional `printed_name` of a `user.added` event, checked: the person's name as signatures show it, no
    /// other signer's.
    private static func checkPrintedName(_ r: inout ObjectReader, state: LogState, _ bad: (String) -> TrialGateError) throws -> String? {
        let printed = try r.optionalString("printed_name")
        if let printed {
            if let why = SignedText.problem(printed, maxLength: 200, multiline: false) ?? (printed.contains("(") || printed.contains(")")
                ? "no parentheses (a signature shows the account in them)" : nil) {
                throw bad("printed_name must be the person's name as signatures show it: \(why)")
            }
            // Two signers with one printed name could not be told apart on a signed record (21 CFR 11.50).
            if let other = state.users.values.first(where: { $0.printedName.map(SignedText.folded) == SignedText.folded(printed) }) {
                throw bad("printed_name \"\(printed)\" is already \(other.name)'s; each signer's printed name is their own")
            }
        }
        return printed
    }

    /// The signer fields of a `user.added` event (`public_key`, `key_id`, `signing_sha256`): all required for an
    /// investigator, none allowed for another role.
    private static func checkSignerFields(_ r: inout ObjectReader, role: Role, printed: String?, token: String, event: Event,
                                          state: LogState, _ bad: (String) -> TrialGateError) throws {
        let publicKey = try r.optionalString("public_key"), keyID = try r.optionalString("key_id")
        let signing = try r.optionalString("signing_sha256")
        if role == .investigator {
            guard event.schemaVersion >= 3 else { throw bad("investigators do not exist in event schema \(event.schemaVersion)") }
            guard printed != nil else { throw bad("an investigator needs printed_name: the name their signatures show (21 CFR 11.50)") }
            guard let publicKey, Self.isRawKeyBase64(publicKey) else {
                throw bad("an investigator needs public_key: base64 of a raw 32-byte Ed25519 public key, got \(publicKey.map { "\"\($0)\"" } ?? "none")")
            }
            guard let keyID, keyID.utf8.count == 16, keyID.utf8.allSatisfy(Self.isLowerHex) else {
                throw bad("an investigator needs key_id: 16 lowercase hex digits naming public_key")
            }
            if state.signerKeys.contains(publicKey) {
                throw bad("public_key was already registered in this log; each investigator has their own key")
            }
            guard let signing else { throw bad("an investigator needs signing_sha256: the SHA-256 of their signing code") }
            try checkTokenDigest(signing, in: state, bad, field: "signing_sha256")
            if signing == token { throw bad("the signing code must differ from the session token") }
        } else if publicKey != nil || keyID != nil || signing != nil {
            throw bad("public_key, key_id and signing_sha256 are for investigators; a \(role.rawValue) does not sign")
        }
    }

    private static func checkTokenDigest(_ digest: String, in state: LogState, _ bad: (String) -> TrialGateError,
                                         field: String = "token_sha256") throws {
        guard digest.utf8.count == 64, digest.utf8.allSatisfy(isLowerHex) else {
            throw bad("\(field) must be 64 lowercase hex digits")
        }
        // Digests are in every export: one seen there must not let anyone in under another name, or come back.
        if state.tokenDigests.contains(digest) { throw bad("\(field) was already used by an account of this log; make a new secret") }
    }

    static func isLowerHex(_ b: UInt8) -> Bool { (0x30...0x39).contains(b) || (0x61...0x66).contains(b) }

    /// Whether `text` is the canonical standard base64 of exactly 32 bytes (a raw Ed25519 key).
    static func isRawKeyBase64(_ text: String) -> Bool { SignedText.isCanonicalBase64(text, bytes: 32) }

    /// Folds a checked `user.*` event.
    mutating func applyUserEvent(_ event: Event) {
        let p = event.payload
        let name = p["name"]!.stringValue!
        switch event.type {
        case .userAdded:
            users[name] = UserAccount(
                name: name, role: Role(rawValue: p["role"]!.stringValue!)!, sites: (p["sites"]?.arrayValue ?? []).compactMap(\.stringValue),
                printedName: p["printed_name"]?.stringValue, publicKey: p["public_key"]?.stringValue, keyID: p["key_id"]?.stringValue,
                keyHistory: p["public_key"]?.stringValue.map { [SigningKeyRecord(seq: event.seq, publicKey: $0, keyID: p["key_id"]?.stringValue ?? "")] } ?? [],
                signingSHA256: p["signing_sha256"]?.stringValue,
                tokenSHA256: p["token_sha256"]!.stringValue!, expiresAt: p["expires_at"]?.stringValue.flatMap(UTCTimestamp.init),
                status: .active, addedSeq: event.seq, addedAt: event.timestamp, changedSeq: event.seq)
        case .userDisabled: users[name]?.status = .disabled
        case .userEnabled: users[name]?.status = .active
        case .userRemoved: users[name]?.status = .removed
        case .userTokenRotated: users[name]?.tokenSHA256 = p["token_sha256"]!.stringValue!
        case .userSignerRotated:
            let key = SigningKeyRecord(seq: event.seq, publicKey: p["public_key"]!.stringValue!, keyID: p["key_id"]!.stringValue!)
            users[name]?.publicKey = key.publicKey
            users[name]?.keyID = key.keyID
            users[name]?.keyHistory.append(key)
            users[name]?.signingSHA256 = p["signing_sha256"]!.stringValue!
        default: return
        }
        if let digest = p["token_sha256"]?.stringValue { tokenDigests.insert(digest) }
        if let digest = p["signing_sha256"]?.stringValue { tokenDigests.insert(digest) }
        if let key = p["public_key"]?.stringValue { signerKeys.insert(key) }
        users[name]?.changedSeq = event.seq
    }
}
