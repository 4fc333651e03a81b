import { describe, expect, it } from 'vitest'
import { APIS } from '../../src/kafka/apis/index.js'
import { HANDLERS } from '../../src/kafka/handlers/index.js'

describe('the handler table', () => {
  it('answers exactly the APIs whose versions ApiVersions advertises', () => {
    expect([...HANDLERS.keys()].sort((a, b) => a - b)).toEqual([...APIS.keys()].sort((a, b) => a - b))
  })
})
