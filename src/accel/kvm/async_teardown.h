// Asynchronous VM teardown, as QEMU's `-run-with async-teardown=on`.
//
// Destroying a KVM VM is done by the kernel when the last reference to the VM's file goes, and
// it can take a while: on this project's kvm-pvm host about 15 ms whatever the guest's size,
// more than Tandem's whole start-up. start_async_teardown() forks a small process that keeps a
// reference to the VM file and nothing else (it closes every other descriptor, so it holds no
// terminal, pipe or image lock) and waits for Tandem to exit; only then does it exit, and the
// kernel tears the VM down in it, after Tandem's exit status has reached its parent.
#pragma once

namespace tandem::kvm {

// Call right after KVM_CREATE_VM, before other threads or descriptors exist. Failures are
// logged and otherwise ignored: teardown is then synchronous, as without the option.
void start_async_teardown(int vm_fd);

}  // namespace tandem::kvm
