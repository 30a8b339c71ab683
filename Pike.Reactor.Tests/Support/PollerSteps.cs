using System;

namespace Pike.Reactor.Tests;

/// <summary>
/// One iteration of a poller, the way the contract suite takes it: Poll for the built-in
/// pollers, Loop(timeout, count: 1) for a poller written pike's way, whose Poll override is
/// the wait and dispatch alone (Loop adds the timer bound, posted actions and due timers
/// around it; docs/custom-poller.md).
/// </summary>
public static class PollerSteps
{
    public static void Step(this BasePoller poller, TimeSpan timeout)
    {
        if (poller is PikeSelectPoller)
        {
            poller.Loop(timeout, count: 1);
        }
        else
        {
            poller.Poll(timeout);
        }
    }
}
