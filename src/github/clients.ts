import { App } from 'octokit'
import type { GitHubConfig } from '../config.js'
import type { GitHubOctokit, GitHubOctokitClass } from './octokit.js'

// Every way the service talks to GitHub, built once per server from the one Octokit class:
// as a user (a legacy OAuth token read for one task, or a user token from a fresh
// authorization), as the App (its JWT), and as one of its installations. Installation tokens
// come from octokit's App, which also retries the 401 GitHub may answer right after a token
// is created (replication lag).

export interface GitHubClients {
  config: GitHubConfig
  asUser(token: string): GitHubOctokit
  /** Authenticated as the App itself. */
  asApp: GitHubOctokit
  asInstallation(installationId: number): Promise<GitHubOctokit>
  /** As an OAuth app, with its client id and secret (Basic credentials): revoking a user's grant of the legacy app. */
  asOAuthApp(clientId: string, clientSecret: string): GitHubOctokit
}

export function createGitHubClients(config: GitHubConfig, GitHub: GitHubOctokitClass): GitHubClients {
  const app = new App({ appId: config.appId, privateKey: config.privateKey, Octokit: GitHub })
  return {
    config,
    asUser: (token) => new GitHub({ auth: token }),
    asApp: app.octokit as GitHubOctokit,
    asInstallation: async (installationId) => (await app.getInstallationOctokit(installationId)) as GitHubOctokit,
    asOAuthApp: (clientId, clientSecret) => {
      const octokit = new GitHub()
      const basic = `basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`
      octokit.hook.before('request', (options) => {
        options.headers.authorization = basic
      })
      return octokit
    },
  }
}
