//! The process heap: the workspace's only `unsafe` code, two calls into C
//! allocators, kept here so every other crate can `forbid(unsafe_code)`.

/// Hands memory the caller just freed (an index build's arenas and hash
/// tables) back to the OS. glibc keeps freed heap, per-thread arenas
/// included, mapped and counted in RSS (measured: 24 MiB after a KB build
/// that keeps 11 MiB); trimming returns it. Other allocators return memory
/// on their own terms, so elsewhere this does nothing.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim takes no pointers and only releases free
        // memory; it is safe to call at any time from any thread.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Keeps the heap in small (4 KB) pages. With transparent huge pages the
/// kernel backs a whole 2 MB range once the allocator touches part of it,
/// and mimalloc asks for them on its arena: under the bench's load that was
/// 15 MB of resident memory the heap did not use (62 against 47 MB), which
/// is most of the distance to the 40 MB goal. Call it first thing in `main`,
/// before the heap has grown.
pub fn no_transparent_huge_pages() {
    /// `PR_SET_THP_DISABLE` in linux/prctl.h.
    #[cfg(target_os = "linux")]
    const PR_SET_THP_DISABLE: i32 = 41;
    // SAFETY: sets one flag of this process and takes no pointers; it
    // fails harmlessly (EINVAL) on kernels without the option.
    #[cfg(target_os = "linux")]
    unsafe {
        prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Whether transparent huge pages are off for this process (Linux:
/// `PR_GET_THP_DISABLE`); `None` where that cannot be asked.
pub fn transparent_huge_pages_disabled() -> Option<bool> {
    #[cfg(target_os = "linux")]
    {
        const PR_GET_THP_DISABLE: i32 = 42;
        // SAFETY: reads one flag of this process; takes no pointers.
        let r = unsafe { prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        (r >= 0).then_some(r == 1)
    }
    #[cfg(not(target_os = "linux"))]
    None
}

#[cfg(target_os = "linux")]
extern "C" {
    fn prctl(option: i32, arg2: u64, arg3: u64, arg4: u64, arg5: u64) -> i32;
}

/// `mi_option_purge_delay` in the vendored mimalloc.h (the bindings do not
/// name it): how long freed memory stays resident.
#[cfg(feature = "mimalloc")]
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t =
    libmimalloc_sys::mi_option_use_numa_nodes - 1;

/// Makes mimalloc return freed memory at once. Its default delay, 1 s, kept
/// about 20 MB more resident under load; purging at once cost no
/// measurable CPU in the bench. Call it first thing in `main`.
#[cfg(feature = "mimalloc")]
pub fn purge_freed_memory_at_once() {
    // SAFETY: sets a plain option; mimalloc reads options atomically, so
    // this is sound from any thread at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn huge_pages_are_turned_off() {
        super::no_transparent_huge_pages();
        assert_eq!(super::transparent_huge_pages_disabled(), Some(true));
    }
}
