import CCurl
import Glibc  // curl's open-socket callback: sockaddr_in/sockaddr_in6 of curl_sockaddr, and socket(2) for curl
import LinuxFS
import PinCore

/// One webhook attempt in flight: its curl easy handle and what curl's callbacks collect.
/// Used only on the ``WebhookSender``'s thread; the handle is cleaned up when the transfer goes
/// (after it was removed from the multi handle).
final class WebhookTransfer {
    let easy: UnsafeMutableRawPointer
    /// Wall-clock epoch seconds.
    let startedAt: Double
    private let startedMonotonic = WebhookClock.monotonic()
    /// Whether the allow-list lets this URL reach loopback, unspecified and link-local addresses.
    private let permitsSpecialAddresses: Bool
    private var headers: UnsafeMutablePointer<curl_slist>?
    private var resolve: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// The last response's `Retry-After` and `Location` values (at most ``maxHeaderValue`` bytes each).
    private(set) var retryAfter: String?
    private(set) var location: String?
    /// The address a connection was refused to by the allow-list, if one was.
    private(set) var refusedAddress: String?

    static let maxHeaderValue = 2048

    /// Prepares a POST of `message`; throws `.systemError` when curl cannot make a handle or refuses an option.
    init(
        message: WebhookMessage, timestamp: Int64, signature: String, permitsSpecialAddresses: Bool,
        startedAt: Double, configuration: WebhookConfiguration
    ) throws(CoreError) {
        guard let easy = curl_easy_init() else { throw CoreError(.systemError, "curl_easy_init failed") }
        self.easy = easy
        self.startedAt = startedAt
        self.permitsSpecialAddresses = permitsSpecialAddresses
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer[0] = 0
        for line in [
            "Content-Type: application/json", "webhook-id: \(message.id)", "webhook-timestamp: \(timestamp)",
            "webhook-signature: \(signature)", "Expect:",
        ] {
            headers = curl_slist_append(headers, line)
        }
        for entry in configuration.resolve { resolve = curl_slist_append(resolve, entry) }

        let context = Unmanaged.passUnretained(self).toOpaque()
        let milliseconds = { (seconds: Double) in max(1, Int((seconds * 1000).rounded())) }
        var codes = [
            ccurl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer),
            ccurl_easy_setopt_string(easy, CURLOPT_URL, message.url),
            ccurl_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"),
            ccurl_easy_setopt_string(easy, CURLOPT_PROXY, ""),
            ccurl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0),
            ccurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1),
            ccurl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, milliseconds(configuration.requestTimeout)),
            ccurl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(configuration.connectTimeout)),
            ccurl_easy_setopt_string(easy, CURLOPT_USERAGENT, configuration.userAgent),
            ccurl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headers),
            ccurl_easy_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(message.body.count)),
            message.body.withUnsafeBytes { body in  // an empty body copies nothing: any valid pointer does
                ccurl_easy_setopt_pointer(
                    easy, CURLOPT_COPYPOSTFIELDS, body.baseAddress ?? UnsafeRawPointer(errorBuffer))
            },
            ccurl_easy_setopt_write_function(easy, CURLOPT_WRITEFUNCTION, webhookDiscardBody),
            ccurl_easy_setopt_write_function(easy, CURLOPT_HEADERFUNCTION, webhookHeaderReceived),
            ccurl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context),
            ccurl_easy_setopt_opensocket_function(easy, webhookOpenSocket),
            ccurl_easy_setopt_pointer(easy, CURLOPT_OPENSOCKETDATA, context),
        ]
        if resolve != nil { codes.append(ccurl_easy_setopt_slist(easy, CURLOPT_RESOLVE, resolve)) }
        if let bad = codes.first(where: { $0 != CURLE_OK }) {
            throw CoreError(.systemError, "curl refused an option: " + String(cString: curl_easy_strerror(bad)))
        }
    }

    deinit {
        curl_easy_cleanup(easy)
        curl_slist_free_all(headers)
        curl_slist_free_all(resolve)
        errorBuffer.deallocate()
    }

    /// Seconds since the attempt started.
    var elapsed: Double { WebhookClock.monotonic() - startedMonotonic }

    /// The HTTP status of the last response, if one came.
    var responseCode: Int? {
        var code = 0
        guard ccurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK, code > 0 else { return nil }
        return code
    }

    /// Why the transfer failed with `result`: the allow-list's refusal, or curl's detailed error text.
    func errorText(_ result: CURLcode) -> String {
        if let refusedAddress {
            return "connection to \(refusedAddress) refused by the allow-list (loopback/link-local not listed)"
        }
        let detail = String(cString: errorBuffer)
        return detail.isEmpty ? String(cString: curl_easy_strerror(result)) : detail
    }

    /// The delay a `Retry-After` value asks for, in seconds from `now`: delta-seconds or an
    /// HTTP-date; `nil` when it is neither. At most an hour, so one answer cannot park a message for days.
    static func retryAfterSeconds(_ value: String, now: Double) -> Double? {
        let maximum = 3600.0
        if !value.isEmpty, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            return min(maximum, Double(value) ?? maximum)
        }
        let date = curl_getdate(value, nil)
        guard date >= 0 else { return nil }
        return min(maximum, max(0, Double(date) - now))
    }

    /// One header line of a response (a status line starts a new response, so its values win).
    fileprivate func receivedHeader(_ line: UnsafeRawBufferPointer) {
        let text = String(decoding: line.prefix(Self.maxHeaderValue + 64), as: UTF8.self)
        if text.hasPrefix("HTTP/") {
            retryAfter = nil
            location = nil
            return
        }
        guard let colon = text.firstIndex(of: ":") else { return }
        let name = text[..<colon].lowercased()
        guard name == "retry-after" || name == "location" else { return }
        var value = text[text.index(after: colon)...].drop(while: \.isWhitespace)
        while value.last?.isWhitespace == true { value = value.dropLast() }
        value = value.prefix(Self.maxHeaderValue)
        if name == "retry-after" { retryAfter = String(value) } else { location = String(value) }
    }

    /// Opens the socket curl asks for, or refuses with `CURL_SOCKET_BAD` (and remembers the
    /// address) when the allow-list does not let this URL reach it.
    fileprivate func openSocket(_ address: UnsafeMutablePointer<curl_sockaddr>) -> curl_socket_t {
        let family = address.pointee.family
        let length = Int(address.pointee.addrlen)
        let base = UnsafeRawPointer(address) + MemoryLayout<curl_sockaddr>.offset(of: \.addr)!
        let bytes: UnsafeRawBufferPointer
        if family == AF_INET, length >= MemoryLayout<sockaddr_in>.size {
            bytes = UnsafeRawBufferPointer(start: base + MemoryLayout<sockaddr_in>.offset(of: \.sin_addr)!, count: 4)
        } else if family == AF_INET6, length >= MemoryLayout<sockaddr_in6>.size {
            bytes = UnsafeRawBufferPointer(start: base + MemoryLayout<sockaddr_in6>.offset(of: \.sin6_addr)!, count: 16)
        } else {
            refusedAddress = refusedAddress ?? "an address of family \(family)"
            return CURL_SOCKET_BAD
        }
        if !permitsSpecialAddresses && WebhookAllowList.isSpecialAddress(Array(bytes)) {
            let printed = IPAddressText.format(Array(bytes))
            refusedAddress = refusedAddress ?? printed ?? "a loopback/link-local address"
            return CURL_SOCKET_BAD
        }
        return socket(family, address.pointee.socktype | Int32(SOCK_CLOEXEC.rawValue), address.pointee.protocol)
    }
}

/// The clocks the sender uses, in seconds.
enum WebhookClock {
    static func wall() -> Double { seconds(SystemClock.realtime()) }
    static func monotonic() -> Double { seconds(SystemClock.monotonic()) }

    private static func seconds(_ time: (seconds: Int64, nanoseconds: Int64)) -> Double {
        Double(time.seconds) + Double(time.nanoseconds) / 1e9
    }
}

// curl's callbacks: C function pointers that capture nothing; the transfer comes through the
// user-data pointer (unretained: the sender holds every transfer in flight).

private func webhookDiscardBody(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    size * count
}

private func webhookHeaderReceived(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    if let data, let context {
        Unmanaged<WebhookTransfer>.fromOpaque(context).takeUnretainedValue().receivedHeader(
            UnsafeRawBufferPointer(start: data, count: size * count))
    }
    return size * count
}

private func webhookOpenSocket(
    _ context: UnsafeMutableRawPointer?, _ purpose: curlsocktype, _ address: UnsafeMutablePointer<curl_sockaddr>?
) -> curl_socket_t {
    guard let context, let address else { return CURL_SOCKET_BAD }
    return Unmanaged<WebhookTransfer>.fromOpaque(context).takeUnretainedValue().openSocket(address)
}
