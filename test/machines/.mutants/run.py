import subprocess, sys, re
src = open('machines/session.machine.ts').read()
muts = {
 'canStart ignores outbound': ("!context.inFlight.some((op) => op.writesOutbound === true) &&", ""),
 'canStart ignores queued outbound': ("&&\n      !context.queue.some((op) => op.writesOutbound === true)", ""),
 'commit status stopped in starting': ("containerStatus: context.phase === 'stopped' ? 'stopped' : 'running'", "containerStatus: context.phase === 'stopped' || context.phase === 'starting' ? 'stopped' : 'running'"),
 'observed unguarded in running': ("'container.observed': { guard: 'observedIdle', target: 'idle', actions: 'noteReason' }", "'container.observed': { target: 'idle', actions: 'noteReason' }"),
 'idle ignores exit': ("""            'container.stop': { target: 'stopping', actions: 'noteReason' },
            'container.exited': { target: 'stopped', actions: 'noteReason' },
          },
        },
        stopping""", """            'container.stop': { target: 'stopping', actions: 'noteReason' },
          },
        },
        stopping"""),
 'no wake in stopping': ("context.phase === 'stopped' || context.phase === 'stopping'", "context.phase === 'stopped'"),
 'no maxBatch': ("context.queue.slice(0, context.maxBatch)", "context.queue.slice(0)"),
 'stop in stopped': ("always: { guard: 'canStart', target: 'starting' },", "always: { guard: 'canStart', target: 'starting' }, on: { 'container.stop': 'stopping' },"),
 'status emitted for starting': ("if (phase === 'starting' || phase === 'stopping') return current;\n  return phase;", "if (phase === 'stopping') return current;\n  return phase === 'starting' ? 'running' : phase;"),
 'close ignored': ("markClosed: assign({ closed: true, wakeRequested: false })", "markClosed: assign({ closed: false })"),
 'passivate unguarded': ("passivateMs: { guard: 'containerStopped', actions: 'requestPassivation' }", "passivateMs: { actions: 'requestPassivation' }"),
 'no gather': ("invoke: { src: 'gather', onDone: 'committing', onError: 'committing' }", "always: 'committing'"),
 'enqueue drops in committing': ("'mailbox.enqueue': { actions: 'enqueue' },", "'mailbox.enqueue': { guard: ({ context }) => context.inFlight.length === 0, actions: 'enqueue' },"),
 'start error ignored': ("onError: { target: 'stopped', actions: 'reportStartFailed' }", "onError: { target: 'stopped' }"),
}
only = sys.argv[1:] 
for name, (a, b) in muts.items():
    if only and name not in only: continue
    assert a in src, name
    open('test/machines/.mutants/session.machine.ts', 'w').write(src.replace(a, b, 1))
    r = subprocess.run(['npx', 'vitest', 'run', 'test/machines/session.machine.test.ts', '--config', 'test/machines/.mutants/vitest.mutant.ts'], capture_output=True, text=True)
    out = r.stdout + r.stderr
    m = re.search(r'Tests\s+.*', out)
    ansi = re.compile(chr(27) + r'\[[0-9;]*m')
    clean = ansi.sub('', out)
    m = re.search(r'Tests\s+.*', clean)
    print(name.ljust(40), 'rc=', r.returncode, m.group(0) if m else clean[-800:])
