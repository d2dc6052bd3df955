/// A libmicrohttpd connection pointer that may cross threads. MHD allows
/// `MHD_resume_connection` from any thread; everything else stays on MHD's threads.
struct ConnectionHandle: @unchecked Sendable {
    let raw: OpaquePointer
}
