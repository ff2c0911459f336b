//! The process's memory: the workspace's only `unsafe` code (calls into the
//! C allocators and the kernel), kept here so every other crate can
//! `forbid(unsafe_code)`.

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
    fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
}

/// One mapping of the program's own file that nothing has written to.
#[derive(Debug, PartialEq, Eq)]
struct CleanMapping {
    start: usize,
    end: usize,
    resident_kb: usize,
}

/// The program's read-only mappings (code, constants, unwind tables) whose
/// pages all still come from the file: none written, none anonymous. A
/// relocated read-only segment (RELRO) holds written pages and is left out,
/// since dropping them would bring back the unrelocated file contents.
fn clean_mappings(smaps: &str, exe: &str) -> Vec<CleanMapping> {
    // A mapping's header line ends with its file's path.
    let of_exe = format!(" {exe}");
    let mut found = Vec::new();
    // The mapping whose fields are being read, while it still looks clean.
    let mut current: Option<CleanMapping> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if let Some((start, end)) = first.split_once('-').and_then(|(a, b)| {
            Some((
                usize::from_str_radix(a, 16).ok()?,
                usize::from_str_radix(b, 16).ok()?,
            ))
        }) {
            found.extend(current.take());
            let perms = fields.next().unwrap_or_default().as_bytes();
            let read_only_private =
                perms.len() == 4 && perms[0] == b'r' && perms[1] == b'-' && perms[3] == b'p';
            if read_only_private && line.ends_with(&of_exe) {
                current = Some(CleanMapping {
                    start,
                    end,
                    resident_kb: 0,
                });
            }
            continue;
        }
        let kb: usize = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        match first {
            "Rss:" => {
                if let Some(m) = current.as_mut() {
                    m.resident_kb = kb;
                }
            }
            // A written page of a private mapping is anonymous (or swapped).
            // Private_Dirty is no sign: a file the linker just wrote has
            // dirty page-cache pages that nothing in this process wrote.
            "Anonymous:" | "Swap:" if kb > 0 => current = None,
            _ => {}
        }
    }
    found.extend(current);
    found
}

/// Lets go of the program's code and constants that only the start ran
/// (settings, the KB's and the intent model's build, the stores' opening):
/// the kernel maps a file's pages 64 KB around each one touched, and under
/// load 12.4 MB of code was resident where the turn's own spans 11. The
/// pages stay in the page cache; whatever runs next maps its pages again
/// from there. Call it once, when the process is ready to serve.
/// Returns the kilobytes that were resident.
pub fn release_startup_code() -> usize {
    #[cfg(target_os = "linux")]
    {
        /// `MADV_DONTNEED` in linux/mman.h.
        const MADV_DONTNEED: i32 = 4;
        let (Ok(exe), Ok(smaps)) = (
            std::fs::read_link("/proc/self/exe"),
            std::fs::read_to_string("/proc/self/smaps"),
        ) else {
            return 0;
        };
        let mut released = 0;
        for m in clean_mappings(&smaps, &exe.to_string_lossy()) {
            // SAFETY: the range is a whole mapping of the program's own file,
            // read-only and private, with no written or anonymous page (see
            // clean_mappings): MADV_DONTNEED only unmaps its pages, and any
            // later access maps the same file contents again.
            let r = unsafe {
                madvise(
                    m.start as *mut std::ffi::c_void,
                    m.end - m.start,
                    MADV_DONTNEED,
                )
            };
            if r == 0 {
                released += m.resident_kb;
            }
        }
        released
    }
    #[cfg(not(target_os = "linux"))]
    0
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
    use super::*;

    const SMAPS: &str = "\
55d0a000-55d0b000 r--p 00000000 08:01 42 /srv/bot-api
Rss:                 100 kB
Private_Dirty:       100 kB
Anonymous:             0 kB
55d0b000-55d0c000 r-xp 00001000 08:01 42 /srv/bot-api
Rss:                9000 kB
Anonymous:             0 kB
55d0c000-55d0d000 r--p 00002000 08:01 42 /srv/bot-api
Rss:                 700 kB
Anonymous:           700 kB
55d0d000-55d0e000 rw-p 00003000 08:01 42 /srv/bot-api
Rss:                  20 kB
7f00000000-7f00001000 r-xp 00000000 08:01 7 /usr/lib/libc.so.6
Rss:                1200 kB
Anonymous:             0 kB
7f00001000-7f00002000 rw-p 00000000 00:00 0
Rss:               28000 kB
";

    #[test]
    fn only_the_programs_unwritten_read_only_mappings_are_released() {
        let found = clean_mappings(SMAPS, "/srv/bot-api");
        assert_eq!(
            found,
            vec![
                CleanMapping {
                    start: 0x55d0a000,
                    end: 0x55d0b000,
                    resident_kb: 100
                },
                CleanMapping {
                    start: 0x55d0b000,
                    end: 0x55d0c000,
                    resident_kb: 9000
                },
            ],
            "the relocated read-only segment, the writable one, libc and the heap stay"
        );
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn released_code_runs_again() {
        // Whatever this test binary ran before is let go of, and running on
        // (formatting, asserting, exiting) maps it back from the file.
        let released = release_startup_code();
        assert!(released > 0, "nothing of the test binary was resident");
        let again = format!("{:?}", (released, "still runs"));
        assert!(again.contains("still runs"));
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn huge_pages_are_turned_off() {
        super::no_transparent_huge_pages();
        assert_eq!(super::transparent_huge_pages_disabled(), Some(true));
    }
}
