// Asynchronous VM teardown, as QEMU's `-run-with async-teardown=on`.
//
// Destroying a KVM VM is done by the kernel when the last reference to the VM's file goes, and
// it can take a while: on this project's kvm-pvm host about 15 ms whatever the guest's size,
// more than Tandem's whole start-up. start_async_teardown() starts a small process (forked
// twice, so that init reaps it) that keeps a reference to the VM file and nothing else: it
// closes every other descriptor, so it holds no terminal, pipe or image lock. It waits until
// the returned descriptor is closed (by the machine after it has closed its own VM fd, or by
// the kernel when Tandem dies) and then exits: the kernel tears the VM down in it, after
// Tandem has gone on or exited.
#pragma once

#include "base/unique_fd.h"

namespace tandem::kvm {

// Call right after KVM_CREATE_VM, while few descriptors exist. Keep the result until the VM fd
// is closed, then close it. Failures are logged and give an empty fd: teardown is then
// synchronous, as without the option.
UniqueFd start_async_teardown(int vm_fd);

}  // namespace tandem::kvm
