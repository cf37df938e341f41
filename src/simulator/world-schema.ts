// The simulator world format, as shared/contracts/world.schema.json defines it. Kept here so
// the simulator runs without shared/; a test checks the two are the same.

export const worldSchema = {
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "GitHub simulator world",
  "description": "The whole simulated GitHub: one GitHub App, the legacy OAuth App, accounts, repositories with their hooks, existing installations, and what the vendor's legacy database claims. Ids are GitHub-style positive integers, unique per kind.",
  "type": "object",
  "required": [
    "app",
    "legacy_oauth_app",
    "users",
    "repos"
  ],
  "additionalProperties": false,
  "properties": {
    "app": {
      "type": "object",
      "required": [
        "id",
        "slug",
        "client_id",
        "client_secret",
        "webhook_secret",
        "permissions"
      ],
      "additionalProperties": false,
      "properties": {
        "id": {
          "type": "integer",
          "minimum": 1
        },
        "slug": {
          "type": "string"
        },
        "name": {
          "type": "string"
        },
        "client_id": {
          "type": "string"
        },
        "client_secret": {
          "type": "string"
        },
        "webhook_secret": {
          "type": "string"
        },
        "private_key_file": {
          "type": "string",
          "description": "PEM file, relative to the world file. Absent: the simulator generates a key pair at start and serves the private key at GET /_sim/app-key."
        },
        "permissions": {
          "type": "object",
          "additionalProperties": {
            "enum": [
              "read",
              "write",
              "admin"
            ]
          },
          "description": "e.g. {\"metadata\":\"read\",\"repository_hooks\":\"write\"}"
        },
        "callback_url": {
          "type": "string",
          "description": "Where /login/oauth/authorize may redirect. Absent: any redirect_uri on the same host as setup_url."
        },
        "setup_url": {
          "type": "string"
        },
        "webhook_url": {
          "type": "string"
        }
      }
    },
    "legacy_oauth_app": {
      "type": "object",
      "required": [
        "client_id"
      ],
      "additionalProperties": false,
      "properties": {
        "client_id": {
          "type": "string"
        },
        "hook_url": {
          "type": "string",
          "description": "The delivery URL its hooks were created with."
        },
        "client_secret": {
          "type": "string",
          "description": "The legacy OAuth App's client secret: with client_id, the Basic credentials of DELETE /applications/{client_id}/grant and /token, which revoke a user's authorization of the legacy app. Absent: those endpoints refuse every request (401)."
        }
      }
    },
    "users": {
      "type": "array",
      "items": {
        "type": "object",
        "required": [
          "id",
          "login"
        ],
        "additionalProperties": false,
        "properties": {
          "id": {
            "type": "integer",
            "minimum": 1
          },
          "login": {
            "type": "string"
          },
          "site_admin": {
            "type": "boolean"
          },
          "legacy_token": {
            "type": [
              "string",
              "null"
            ],
            "description": "The user's token for the legacy OAuth App. null: the user revoked it."
          },
          "legacy_scopes": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "legacy_token_sso_orgs": {
            "type": "array",
            "items": {
              "type": "string"
            },
            "description": "Logins of the orgs with SAML single sign-on (orgs[].saml_sso) for which the user's legacy token is authorized. Absent: none. A legacy token reaches such an org's resources only when authorized for it; otherwise GitHub answers 403 with an X-GitHub-SSO header naming the URL where the user authorizes it."
          }
        }
      }
    },
    "orgs": {
      "type": "array",
      "items": {
        "type": "object",
        "required": [
          "id",
          "login",
          "members"
        ],
        "additionalProperties": false,
        "properties": {
          "id": {
            "type": "integer",
            "minimum": 1
          },
          "login": {
            "type": "string"
          },
          "members": {
            "type": "object",
            "additionalProperties": {
              "enum": [
                "admin",
                "member"
              ]
            },
            "description": "login -> role; admin = organization owner"
          },
          "hooks": {
            "type": "array",
            "items": {
              "$ref": "#/$defs/hook"
            }
          },
          "default_repository_permission": {
            "enum": [
              "none",
              "read",
              "write",
              "admin"
            ],
            "description": "What every member may do on every repo of the org, as GitHub's organization base permission; absent: read. With none, a member sees only public repos and those granted through collaborators."
          },
          "saml_sso": {
            "type": "boolean",
            "description": "The org enforces SAML single sign-on: OAuth App tokens (legacy tokens) reach its resources only when authorized for it (users[].legacy_token_sso_orgs); GitHub App installation tokens and the App's user tokens are not affected. Absent: false."
          }
        }
      }
    },
    "repos": {
      "type": "array",
      "items": {
        "type": "object",
        "required": [
          "id",
          "owner",
          "name"
        ],
        "additionalProperties": false,
        "properties": {
          "id": {
            "type": "integer",
            "minimum": 1
          },
          "owner": {
            "type": "string",
            "description": "login of a user or an org"
          },
          "name": {
            "type": "string"
          },
          "private": {
            "type": "boolean"
          },
          "archived": {
            "type": "boolean"
          },
          "collaborators": {
            "type": "object",
            "additionalProperties": {
              "enum": [
                "admin",
                "write",
                "read"
              ]
            },
            "description": "login -> permission, beyond what ownership or org roles give"
          },
          "hooks": {
            "type": "array",
            "items": {
              "$ref": "#/$defs/hook"
            }
          }
        }
      }
    },
    "installations": {
      "type": "array",
      "description": "Installations of the app that exist before the run starts.",
      "items": {
        "type": "object",
        "required": [
          "id",
          "account",
          "repository_selection"
        ],
        "additionalProperties": false,
        "properties": {
          "id": {
            "type": "integer",
            "minimum": 1
          },
          "account": {
            "type": "string",
            "description": "login of a user or an org"
          },
          "repository_selection": {
            "enum": [
              "all",
              "selected"
            ]
          },
          "repositories": {
            "type": "array",
            "items": {
              "type": "integer"
            },
            "description": "repo ids, for selected"
          },
          "suspended": {
            "type": "boolean"
          }
        }
      }
    },
    "legacy_registrations": {
      "type": "array",
      "description": "What the vendor's legacy database claims, which may differ from GitHub (stale names, hooks gone, repos deleted). The same shape as a row of legacy.webhooks.",
      "items": {
        "type": "object",
        "required": [
          "github_user_id",
          "kind",
          "owner_id",
          "owner_login",
          "owner_type",
          "hook_id",
          "hook_url"
        ],
        "additionalProperties": false,
        "properties": {
          "id": {
            "type": "integer"
          },
          "github_user_id": {
            "type": "integer"
          },
          "kind": {
            "enum": [
              "repo",
              "org"
            ]
          },
          "owner_id": {
            "type": "integer"
          },
          "owner_login": {
            "type": "string"
          },
          "owner_type": {
            "enum": [
              "User",
              "Organization"
            ]
          },
          "repo_id": {
            "type": [
              "integer",
              "null"
            ]
          },
          "repo_name": {
            "type": [
              "string",
              "null"
            ]
          },
          "hook_id": {
            "type": "integer"
          },
          "hook_url": {
            "type": "string"
          },
          "created_at": {
            "type": "string"
          }
        }
      }
    }
  },
  "$defs": {
    "hook": {
      "type": "object",
      "required": [
        "id",
        "url"
      ],
      "additionalProperties": false,
      "properties": {
        "id": {
          "type": "integer",
          "minimum": 1
        },
        "url": {
          "type": "string"
        },
        "events": {
          "type": "array",
          "items": {
            "type": "string"
          }
        },
        "active": {
          "type": "boolean"
        },
        "created_by": {
          "type": "string",
          "description": "client_id of the OAuth App whose token created it, or 'user' for a hook a person made by hand. Org hooks created by an OAuth App are visible and deletable only with that app's tokens."
        }
      }
    }
  }
} as const
