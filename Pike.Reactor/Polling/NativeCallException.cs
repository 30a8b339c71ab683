using System;
using System.IO;
using System.Runtime.InteropServices;

namespace Pike.Reactor;

/// <summary>
/// A call into the operating system failed. The message names the call and the error, for
/// example <c>epoll_ctl(ADD, fd 7) failed: EPERM (Operation not permitted)</c>.
/// </summary>
public sealed class NativeCallException : IOException
{
    /// <summary>Creates the exception for <paramref name="call"/> failing with <paramref name="errorNumber"/>.</summary>
    public NativeCallException(string call, int errorNumber)
        : base($"{call} failed: {Marshal.GetPInvokeErrorMessage(errorNumber)} (error {errorNumber})")
    {
        Call = call;
        ErrorNumber = errorNumber;
        HResult = errorNumber;
    }

    /// <summary>The failing call, with the arguments that identify it.</summary>
    public string Call { get; }

    /// <summary>The operating system's error number (errno on POSIX, the Win32 or NTSTATUS code on Windows).</summary>
    public int ErrorNumber { get; }
}
