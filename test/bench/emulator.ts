/**
 * The WeChat emulator as a process of its own (access tokens, qrcode/create, user/info), so the
 * services and baselines it answers share no CPU with it but what the machine shares. Its users
 * all follow the account: a login is scanned by a user who scanned none in the last second, as
 * real ones would (BENCH_USERS of them).
 */
import { startEmulator } from '../helper.js'
import { announce, handleTasks } from './tasks.js'

const USERS = Number(process.env.BENCH_USERS ?? 100)

const server = await startEmulator({ after () {} }, {
  users: Array.from({ length: USERS }, (_, index) => ({ nickname: `Bench user ${index}`, following: true, hasUnionid: index % 2 === 0 }))
})
handleTasks({
  openids: () => server.emulator.users.map((user) => user.openid),
  counters: () => server.emulator.counters
})
announce({ url: server.url })
